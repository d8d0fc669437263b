-- The hourly and daily rollups again without tenant_id, for the matrix an
-- admin asks for across all tenants (no tenant filter, not grouped by
-- tenant). Counts and sums merge fast at any size; t-digests do not: on 100
-- million requests a month's vendor × task matrix merged ~100,000 per-tenant
-- daily digests in about 2 s. Without the tenant there are 20 times fewer
-- (bench/RESULTS.md). Fed from usage_hourly like usage_daily, so all four
-- rollups hold the same events.

CREATE TABLE IF NOT EXISTS switchboard.usage_hourly_all_tenants
(
    hour                 DateTime('UTC'),
    vendor               LowCardinality(String),
    model                LowCardinality(String),
    task                 LowCardinality(String),
    requests             AggregateFunction(count),
    succeeded            AggregateFunction(count),
    failed_over          AggregateFunction(count),
    failed_attempts      AggregateFunction(count),
    input_tokens         AggregateFunction(sum, UInt64),
    cached_input_tokens  AggregateFunction(sum, UInt64),
    output_tokens        AggregateFunction(sum, UInt64),
    cost_usd             AggregateFunction(sum, Decimal(38, 18)),
    latency_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32),
    ttft_observed        AggregateFunction(count),
    ttft_ms_quantiles    AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32)
)
ENGINE = AggregatingMergeTree
-- Monthly partitions, as every rollup.
PARTITION BY toYYYYMM(hour)
-- The all-tenants matrix reads a range of hours at a window's edges, then
-- groups by the dimensions that complete the key.
ORDER BY (hour, vendor, model, task);

CREATE TABLE IF NOT EXISTS switchboard.usage_daily_all_tenants
(
    day                  DateTime('UTC'),
    vendor               LowCardinality(String),
    model                LowCardinality(String),
    task                 LowCardinality(String),
    requests             AggregateFunction(count),
    succeeded            AggregateFunction(count),
    failed_over          AggregateFunction(count),
    failed_attempts      AggregateFunction(count),
    input_tokens         AggregateFunction(sum, UInt64),
    cached_input_tokens  AggregateFunction(sum, UInt64),
    output_tokens        AggregateFunction(sum, UInt64),
    cost_usd             AggregateFunction(sum, Decimal(38, 18)),
    latency_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32),
    ttft_observed        AggregateFunction(count),
    ttft_ms_quantiles    AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32)
)
ENGINE = AggregatingMergeTree
-- Monthly partitions, as every rollup.
PARTITION BY toYYYYMM(day)
-- The all-tenants matrix reads a range of whole days, then groups by the
-- dimensions that complete the key.
ORDER BY (day, vendor, model, task);

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_hourly_all_tenants_from_hourly
TO switchboard.usage_hourly_all_tenants
AS SELECT
    hour, vendor, model, task,
    countMergeState(requests)                                          AS requests,
    countMergeState(succeeded)                                         AS succeeded,
    countMergeState(failed_over)                                       AS failed_over,
    countMergeState(failed_attempts)                                   AS failed_attempts,
    sumMergeState(input_tokens)                                        AS input_tokens,
    sumMergeState(cached_input_tokens)                                 AS cached_input_tokens,
    sumMergeState(output_tokens)                                       AS output_tokens,
    sumMergeState(cost_usd)                                            AS cost_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles)  AS latency_ms_quantiles,
    countMergeState(ttft_observed)                                     AS ttft_observed,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)     AS ttft_ms_quantiles
FROM switchboard.usage_hourly
GROUP BY hour, vendor, model, task;

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_daily_all_tenants_from_hourly
TO switchboard.usage_daily_all_tenants
AS SELECT
    toStartOfDay(hour)                                                 AS day,
    vendor, model, task,
    countMergeState(requests)                                          AS requests,
    countMergeState(succeeded)                                         AS succeeded,
    countMergeState(failed_over)                                       AS failed_over,
    countMergeState(failed_attempts)                                   AS failed_attempts,
    sumMergeState(input_tokens)                                        AS input_tokens,
    sumMergeState(cached_input_tokens)                                 AS cached_input_tokens,
    sumMergeState(output_tokens)                                       AS output_tokens,
    sumMergeState(cost_usd)                                            AS cost_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles)  AS latency_ms_quantiles,
    countMergeState(ttft_observed)                                     AS ttft_observed,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)     AS ttft_ms_quantiles
FROM switchboard.usage_hourly
GROUP BY day, vendor, model, task;

-- Hours rolled up before these views existed (run with ingest stopped, as 0003).
INSERT INTO switchboard.usage_hourly_all_tenants
SELECT
    hour, vendor, model, task,
    countMergeState(requests), countMergeState(succeeded), countMergeState(failed_over),
    countMergeState(failed_attempts), sumMergeState(input_tokens),
    sumMergeState(cached_input_tokens), sumMergeState(output_tokens), sumMergeState(cost_usd),
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles),
    countMergeState(ttft_observed),
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)
FROM switchboard.usage_hourly
GROUP BY hour, vendor, model, task;

INSERT INTO switchboard.usage_daily_all_tenants
SELECT
    toStartOfDay(hour) AS day, vendor, model, task,
    countMergeState(requests), countMergeState(succeeded), countMergeState(failed_over),
    countMergeState(failed_attempts), sumMergeState(input_tokens),
    sumMergeState(cached_input_tokens), sumMergeState(output_tokens), sumMergeState(cost_usd),
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles),
    countMergeState(ttft_observed),
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)
FROM switchboard.usage_hourly
GROUP BY day, vendor, model, task;
