SELECT service_tier AS service_tier_key, vendor AS vendor_key,
      countIf(kind = 'request') AS requests,
      countIf(kind = 'request' AND status = 'success') AS succeeded,
      countIf(kind = 'request' AND attempts > 1) AS failed_over,
      countIf(kind = 'attempt_failed') AS failed_attempts,
      countIf(kind = 'request' AND NOT price_known) AS unpriced_requests,
      sumIf(input_tokens, kind = 'request') AS input_tokens,
      sumIf(cached_input_tokens, kind = 'request') AS cached_input_tokens,
      sumIf(cache_write_input_tokens, kind = 'request') AS cache_write_input_tokens,
      sumIf(output_tokens, kind = 'request') AS output_tokens,
      sumIf(reasoning_tokens, kind = 'request') AS reasoning_tokens,
      toString(sumIf(cost_usd, kind = 'request')) AS cost_usd,
      toString(sumIf(list_cost_usd, kind = 'request')) AS list_cost_usd,
      quantilesExactIf(0.5, 0.95, 0.99)(latency_ms, kind = 'request') AS latency_ms_quantiles,
      countIf(kind = 'request' AND ttft_ms IS NOT NULL) AS ttft_observed,
      quantilesExactIf(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms), kind = 'request' AND ttft_ms IS NOT NULL) AS ttft_ms_quantiles
    FROM (
      SELECT 'request' AS kind, toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task,
             team, key_id, service_tier,
             status, attempts, price_known, input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens, reasoning_tokens, cost_usd, list_cost_usd,
             latency_ms, ttft_ms
      FROM switchboard.request_completed FINAL
      WHERE occurred_at >= {window_from:DateTime64(3, 'UTC')} AND occurred_at < {window_to:DateTime64(3, 'UTC')} AND service_tier IN {filter_service_tier:Array(String)} AND tenant_id IN {scope_tenants:Array(String)}
      UNION ALL
      SELECT 'attempt_failed' AS kind, toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task,
             team, key_id, '' AS service_tier,
             'failed' AS status, toUInt16(1) AS attempts, true AS price_known, toUInt64(0) AS input_tokens, toUInt64(0) AS cached_input_tokens, toUInt64(0) AS cache_write_input_tokens, toUInt64(0) AS output_tokens, toUInt64(0) AS reasoning_tokens, toDecimal128(0, 18) AS cost_usd, toDecimal128(0, 18) AS list_cost_usd,
             latency_ms, CAST(NULL AS Nullable(UInt32))
      FROM switchboard.attempt_failed FINAL
      WHERE occurred_at >= {window_from:DateTime64(3, 'UTC')} AND occurred_at < {window_to:DateTime64(3, 'UTC')} AND service_tier IN {filter_service_tier:Array(String)} AND tenant_id IN {scope_tenants:Array(String)})
    GROUP BY service_tier_key, vendor_key
    ORDER BY service_tier_key, vendor_key

-- filter_service_tier = ["batch","flex"]
-- scope_tenants = ["acme","globex"]
-- window_from = "2026-11-18T03:17:12.345Z"
-- window_to = "2026-11-20T19:02:00.001Z"
