-- The per-tenant rollups again without task and team, for a matrix by
-- tenant, vendor and model only (grouped and filtered by nothing else), such
-- as who spends what with which vendor. Counts and sums merge fast at any
-- size; t-digests do not: across all tenants, a month's tenant × vendor
-- matrix merged some 220,000 digests from usage_daily and the edge hours of
-- usage_hourly, 2.7 s on 100 million requests (bench/RESULTS.md). Keyed by
-- tenant, vendor and model there are a dozen times fewer, and fewer still
-- where tenants have many teams.
--
-- Fed from usage_hourly like the all-tenants rollups (0007), so every rollup
-- holds the same events; what usage_hourly already holds is folded in below,
-- with ingest stopped as for every rollup change.

CREATE TABLE IF NOT EXISTS switchboard.usage_hourly_by_tenant
(
    hour                     DateTime('UTC'),
    tenant_id                LowCardinality(String),
    vendor                   LowCardinality(String),
    model                    LowCardinality(String),
    requests                 AggregateFunction(count),
    succeeded                AggregateFunction(count),
    failed_over              AggregateFunction(count),
    failed_attempts          AggregateFunction(count),
    unpriced_requests        AggregateFunction(count),
    input_tokens             AggregateFunction(sum, UInt64),
    cached_input_tokens      AggregateFunction(sum, UInt64),
    cache_write_input_tokens AggregateFunction(sum, UInt64),
    output_tokens            AggregateFunction(sum, UInt64),
    reasoning_tokens         AggregateFunction(sum, UInt64),
    cost_usd                 AggregateFunction(sum, Decimal(38, 18)),
    list_cost_usd            AggregateFunction(sum, Decimal(38, 18)),
    latency_ms_quantiles     AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32),
    ttft_observed            AggregateFunction(count),
    ttft_ms_quantiles        AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
-- The matrix reads the tenants and the edge hours of a window, then groups
-- by the dimensions that complete the key.
ORDER BY (tenant_id, hour, vendor, model);

CREATE TABLE IF NOT EXISTS switchboard.usage_daily_by_tenant
(
    day                      DateTime('UTC'),
    tenant_id                LowCardinality(String),
    vendor                   LowCardinality(String),
    model                    LowCardinality(String),
    requests                 AggregateFunction(count),
    succeeded                AggregateFunction(count),
    failed_over              AggregateFunction(count),
    failed_attempts          AggregateFunction(count),
    unpriced_requests        AggregateFunction(count),
    input_tokens             AggregateFunction(sum, UInt64),
    cached_input_tokens      AggregateFunction(sum, UInt64),
    cache_write_input_tokens AggregateFunction(sum, UInt64),
    output_tokens            AggregateFunction(sum, UInt64),
    reasoning_tokens         AggregateFunction(sum, UInt64),
    cost_usd                 AggregateFunction(sum, Decimal(38, 18)),
    list_cost_usd            AggregateFunction(sum, Decimal(38, 18)),
    latency_ms_quantiles     AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32),
    ttft_observed            AggregateFunction(count),
    ttft_ms_quantiles        AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
-- The tenants and a range of whole days.
ORDER BY (tenant_id, day, vendor, model);

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_hourly_by_tenant_from_hourly
TO switchboard.usage_hourly_by_tenant
AS SELECT
    hour,
    tenant_id, vendor, model,
    countMergeState(requests)                                          AS requests,
    countMergeState(succeeded)                                         AS succeeded,
    countMergeState(failed_over)                                       AS failed_over,
    countMergeState(failed_attempts)                                   AS failed_attempts,
    countMergeState(unpriced_requests)                                 AS unpriced_requests,
    sumMergeState(input_tokens)                                        AS input_tokens,
    sumMergeState(cached_input_tokens)                                 AS cached_input_tokens,
    sumMergeState(cache_write_input_tokens)                            AS cache_write_input_tokens,
    sumMergeState(output_tokens)                                       AS output_tokens,
    sumMergeState(reasoning_tokens)                                    AS reasoning_tokens,
    sumMergeState(cost_usd)                                            AS cost_usd,
    sumMergeState(list_cost_usd)                                       AS list_cost_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles)  AS latency_ms_quantiles,
    countMergeState(ttft_observed)                                     AS ttft_observed,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)     AS ttft_ms_quantiles
FROM switchboard.usage_hourly
GROUP BY hour, tenant_id, vendor, model;

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_daily_by_tenant_from_hourly
TO switchboard.usage_daily_by_tenant
AS SELECT
    toStartOfDay(hour) AS day,
    tenant_id, vendor, model,
    countMergeState(requests)                                          AS requests,
    countMergeState(succeeded)                                         AS succeeded,
    countMergeState(failed_over)                                       AS failed_over,
    countMergeState(failed_attempts)                                   AS failed_attempts,
    countMergeState(unpriced_requests)                                 AS unpriced_requests,
    sumMergeState(input_tokens)                                        AS input_tokens,
    sumMergeState(cached_input_tokens)                                 AS cached_input_tokens,
    sumMergeState(cache_write_input_tokens)                            AS cache_write_input_tokens,
    sumMergeState(output_tokens)                                       AS output_tokens,
    sumMergeState(reasoning_tokens)                                    AS reasoning_tokens,
    sumMergeState(cost_usd)                                            AS cost_usd,
    sumMergeState(list_cost_usd)                                       AS list_cost_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles)  AS latency_ms_quantiles,
    countMergeState(ttft_observed)                                     AS ttft_observed,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)     AS ttft_ms_quantiles
FROM switchboard.usage_hourly_by_tenant
GROUP BY day, tenant_id, vendor, model;

-- What usage_hourly held before the views existed, folded in once; the view
-- above fills the daily table from it. A run after a failure part-way starts
-- again from empty tables.
TRUNCATE TABLE switchboard.usage_daily_by_tenant;
TRUNCATE TABLE switchboard.usage_hourly_by_tenant;
INSERT INTO switchboard.usage_hourly_by_tenant
SELECT
    hour,
    tenant_id, vendor, model,
    countMergeState(requests)                                          AS requests,
    countMergeState(succeeded)                                         AS succeeded,
    countMergeState(failed_over)                                       AS failed_over,
    countMergeState(failed_attempts)                                   AS failed_attempts,
    countMergeState(unpriced_requests)                                 AS unpriced_requests,
    sumMergeState(input_tokens)                                        AS input_tokens,
    sumMergeState(cached_input_tokens)                                 AS cached_input_tokens,
    sumMergeState(cache_write_input_tokens)                            AS cache_write_input_tokens,
    sumMergeState(output_tokens)                                       AS output_tokens,
    sumMergeState(reasoning_tokens)                                    AS reasoning_tokens,
    sumMergeState(cost_usd)                                            AS cost_usd,
    sumMergeState(list_cost_usd)                                       AS list_cost_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles)  AS latency_ms_quantiles,
    countMergeState(ttft_observed)                                     AS ttft_observed,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)     AS ttft_ms_quantiles
FROM switchboard.usage_hourly
GROUP BY hour, tenant_id, vendor, model;
