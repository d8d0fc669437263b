SELECT 1 AS found FROM switchboard.quality_scored
    WHERE request_occurred_at IS NULL
      AND occurred_at >= {window_from:DateTime64(3, 'UTC')} - INTERVAL 1 HOUR AND tenant_id IN {scope_tenants:Array(String)} AND tenant_id IN {filter_tenant:Array(String)} AND source IN {quality_sources:Array(String)}
    LIMIT 1

-- filter_tenant = ["acme"]
-- quality_sources = ["human","eval"]
-- scope_tenants = ["acme","globex"]
-- window_from = "2026-11-18T03:17:12.345Z"
