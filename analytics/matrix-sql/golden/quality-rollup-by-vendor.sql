SELECT vendor AS vendor_key,
      metric, type, minimum, maximum, category,
      sum(n) AS scores,
      sum(n_true) AS true_scores,
      if(type = 'number', sum(x_sum) / scores, NULL) AS mean,
      -- Rounding can take Σx² − (Σx)²/n a hair below zero when every score is equal.
      if(type = 'number' AND scores > 1,
         greatest(0, (sum(x_sum_squares) - pow(sum(x_sum), 2) / scores) / (scores - 1)),
         NULL) AS sample_variance
    FROM (
      SELECT hour, tenant_id, vendor, model, task, team, '' AS key_id, metric,
             value_type AS type, minimum, maximum, category, scores AS n, true_scores AS n_true,
             number_sum AS x_sum, number_sum_squares AS x_sum_squares
      FROM switchboard.quality_hourly
      WHERE ((hour >= {hours_head_from:DateTime('UTC')} AND hour < {hours_head_to:DateTime('UTC')}) OR (hour >= {hours_tail_from:DateTime('UTC')} AND hour < {hours_tail_to:DateTime('UTC')})) AND tenant_id IN {scope_tenants:Array(String)} AND source IN {quality_sources:Array(String)}
      UNION ALL
      SELECT toStartOfHour(assumeNotNull(request_occurred_at)) AS hour, tenant_id, vendor, model,
             task, team, key_id, metric, value.type AS type,
             if(type = 'number', assumeNotNull(value.minimum), 0) AS minimum,
             if(type = 'number', assumeNotNull(value.maximum), 0) AS maximum,
             if(type = 'category', assumeNotNull(value.category), '') AS category, toUInt64(1) AS n,
             toUInt64(ifNull(value.boolean, false)) AS n_true,
             if(type = 'number', assumeNotNull(value.number), 0) AS x_sum,
             if(type = 'number', pow(assumeNotNull(value.number), 2), 0) AS x_sum_squares
      FROM switchboard.quality_scored FINAL
      WHERE request_occurred_at IS NOT NULL
        -- A score never precedes its request by more than the skew: the sorting key bounds the read.
        AND occurred_at >= {window_from:DateTime64(3, 'UTC')} - INTERVAL 1 HOUR
        AND ((request_occurred_at >= {raw_head_from:DateTime64(3, 'UTC')} AND request_occurred_at < {raw_head_to:DateTime64(3, 'UTC')}) OR (request_occurred_at >= {raw_tail_from:DateTime64(3, 'UTC')} AND request_occurred_at < {raw_tail_to:DateTime64(3, 'UTC')})) AND tenant_id IN {scope_tenants:Array(String)} AND source IN {quality_sources:Array(String)} AND tenant_id IN {scope_tenants:Array(String)}
    )
    GROUP BY vendor_key, metric, type, minimum, maximum, category
    ORDER BY vendor_key, metric, type, minimum, maximum, category

-- hours_head_from = "2026-11-18T04:00:00.000Z"
-- hours_head_to = "2026-11-20T19:00:00.000Z"
-- hours_tail_from = "2026-11-20T19:02:00.001Z"
-- hours_tail_to = "2026-11-20T19:02:00.001Z"
-- quality_sources = ["human"]
-- raw_head_from = "2026-11-18T03:17:12.345Z"
-- raw_head_to = "2026-11-18T04:00:00.000Z"
-- raw_tail_from = "2026-11-20T19:00:00.000Z"
-- raw_tail_to = "2026-11-20T19:02:00.001Z"
-- scope_tenants = ["acme","globex"]
-- window_from = "2026-11-18T03:17:12.345Z"
