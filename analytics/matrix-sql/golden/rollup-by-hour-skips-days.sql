SELECT vendor AS vendor_key, hour AS hour_bucket,
      countMerge(requests) AS requests,
      countMerge(succeeded) AS succeeded,
      countMerge(failed_over) AS failed_over,
      countMerge(failed_attempts) AS failed_attempts,
      countMerge(unpriced_requests) AS unpriced_requests,
      sumMerge(input_tokens) AS input_tokens,
      sumMerge(cached_input_tokens) AS cached_input_tokens,
      sumMerge(cache_write_input_tokens) AS cache_write_input_tokens,
      sumMerge(output_tokens) AS output_tokens,
      sumMerge(reasoning_tokens) AS reasoning_tokens,
      toString(sumMerge(cost_usd)) AS cost_usd,
      toString(sumMerge(list_cost_usd)) AS list_cost_usd,
      quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms_quantiles) AS latency_ms_quantiles,
      countMerge(ttft_observed) AS ttft_observed,
      CAST([] AS Array(Float64)) AS ttft_ms_quantiles
    FROM (
      SELECT day AS hour, tenant_id, vendor, model, '' AS task, '' AS team, requests, succeeded, failed_over, failed_attempts, unpriced_requests, input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens, reasoning_tokens, cost_usd, list_cost_usd, latency_ms_quantiles, ttft_observed
      FROM switchboard.usage_daily_by_tenant
      WHERE day >= {days_from:DateTime('UTC')} AND day < {days_to:DateTime('UTC')} AND tenant_id IN {filter_tenant:Array(String)}
      UNION ALL
      SELECT hour, tenant_id, vendor, model, '' AS task, '' AS team, requests, succeeded, failed_over, failed_attempts, unpriced_requests, input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens, reasoning_tokens, cost_usd, list_cost_usd, latency_ms_quantiles, ttft_observed
      FROM switchboard.usage_hourly_by_tenant
      WHERE ((hour >= {hours_head_from:DateTime('UTC')} AND hour < {hours_head_to:DateTime('UTC')}) OR (hour >= {hours_tail_from:DateTime('UTC')} AND hour < {hours_tail_to:DateTime('UTC')})) AND tenant_id IN {filter_tenant:Array(String)}
      UNION ALL
      SELECT hour, tenant_id, vendor, model, task, team,
        countStateIf(kind = 'request') AS requests,
        countStateIf(kind = 'request' AND status = 'success') AS succeeded,
        countStateIf(kind = 'request' AND attempts > 1) AS failed_over,
        countStateIf(kind = 'attempt_failed') AS failed_attempts,
        countStateIf(kind = 'request' AND NOT price_known) AS unpriced_requests,
        sumStateIf(input_tokens, kind = 'request') AS input_tokens,
        sumStateIf(cached_input_tokens, kind = 'request') AS cached_input_tokens,
        sumStateIf(cache_write_input_tokens, kind = 'request') AS cache_write_input_tokens,
        sumStateIf(output_tokens, kind = 'request') AS output_tokens,
        sumStateIf(reasoning_tokens, kind = 'request') AS reasoning_tokens,
        sumStateIf(cost_usd, kind = 'request') AS cost_usd,
        sumStateIf(list_cost_usd, kind = 'request') AS list_cost_usd,
        quantilesTDigestStateIf(0.5, 0.95, 0.99)(latency_ms, kind = 'request') AS latency_ms_quantiles,
        countStateIf(kind = 'request' AND ttft_ms IS NOT NULL) AS ttft_observed
      FROM (
      SELECT 'request' AS kind, toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task,
             team, key_id, service_tier,
             status, attempts, price_known, input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens, reasoning_tokens, cost_usd, list_cost_usd,
             latency_ms, ttft_ms
      FROM switchboard.request_completed FINAL
      WHERE ((occurred_at >= {raw_head_from:DateTime64(3, 'UTC')} AND occurred_at < {raw_head_to:DateTime64(3, 'UTC')}) OR (occurred_at >= {raw_tail_from:DateTime64(3, 'UTC')} AND occurred_at < {raw_tail_to:DateTime64(3, 'UTC')})) AND tenant_id IN {filter_tenant:Array(String)}
      UNION ALL
      SELECT 'attempt_failed' AS kind, toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task,
             team, key_id, '' AS service_tier,
             'failed' AS status, toUInt16(1) AS attempts, true AS price_known, toUInt64(0) AS input_tokens, toUInt64(0) AS cached_input_tokens, toUInt64(0) AS cache_write_input_tokens, toUInt64(0) AS output_tokens, toUInt64(0) AS reasoning_tokens, toDecimal128(0, 18) AS cost_usd, toDecimal128(0, 18) AS list_cost_usd,
             latency_ms, CAST(NULL AS Nullable(UInt32))
      FROM switchboard.attempt_failed FINAL
      WHERE ((occurred_at >= {raw_head_from:DateTime64(3, 'UTC')} AND occurred_at < {raw_head_to:DateTime64(3, 'UTC')}) OR (occurred_at >= {raw_tail_from:DateTime64(3, 'UTC')} AND occurred_at < {raw_tail_to:DateTime64(3, 'UTC')})) AND tenant_id IN {filter_tenant:Array(String)})
      GROUP BY hour, tenant_id, vendor, model, task, team
    )
    GROUP BY vendor_key, hour_bucket
    ORDER BY vendor_key, hour_bucket

-- days_from = "2026-11-20T19:02:00.001Z"
-- days_to = "2026-11-20T19:02:00.001Z"
-- filter_tenant = ["acme"]
-- hours_head_from = "2026-11-18T04:00:00.000Z"
-- hours_head_to = "2026-11-20T19:00:00.000Z"
-- hours_tail_from = "2026-11-20T19:02:00.001Z"
-- hours_tail_to = "2026-11-20T19:02:00.001Z"
-- raw_head_from = "2026-11-18T03:17:12.345Z"
-- raw_head_to = "2026-11-18T04:00:00.000Z"
-- raw_tail_from = "2026-11-20T19:00:00.000Z"
-- raw_tail_to = "2026-11-20T19:02:00.001Z"
