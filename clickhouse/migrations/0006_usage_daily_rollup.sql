-- Daily rollup on top of the hourly one (0003), so a month's matrix merges
-- thirty rows per group instead of seven hundred and twenty. A materialized
-- view on usage_hourly sees each block the hourly views insert and folds its
-- states into days with -MergeState, so both rollups hold the same events.
-- The matrix reads whole days from here, whole hours at the window's edges
-- from usage_hourly, and partial hours from the raw events.

CREATE TABLE IF NOT EXISTS switchboard.usage_daily
(
    day                  DateTime('UTC'),
    tenant_id            LowCardinality(String),
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
-- Monthly partitions, as the raw tables and usage_hourly.
PARTITION BY toYYYYMM(day)
-- The matrix filters by the token's tenants and a range of whole days, then
-- groups by the dimensions that complete the key.
ORDER BY (tenant_id, day, vendor, model, task);

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_daily_from_hourly
TO switchboard.usage_daily
AS SELECT
    toStartOfDay(hour)                                              AS day,
    tenant_id, vendor, model, task,
    countMergeState(requests)                                       AS requests,
    countMergeState(succeeded)                                      AS succeeded,
    countMergeState(failed_over)                                    AS failed_over,
    countMergeState(failed_attempts)                                AS failed_attempts,
    sumMergeState(input_tokens)                                     AS input_tokens,
    sumMergeState(cached_input_tokens)                              AS cached_input_tokens,
    sumMergeState(output_tokens)                                    AS output_tokens,
    sumMergeState(cost_usd)                                         AS cost_usd,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles) AS latency_ms_quantiles,
    countMergeState(ttft_observed)                                  AS ttft_observed,
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)  AS ttft_ms_quantiles
FROM switchboard.usage_hourly
GROUP BY day, tenant_id, vendor, model, task;

-- Hours rolled up before this view existed (run with ingest stopped, as 0003).
INSERT INTO switchboard.usage_daily
SELECT
    toStartOfDay(hour) AS day,
    tenant_id, vendor, model, task,
    countMergeState(requests),
    countMergeState(succeeded),
    countMergeState(failed_over),
    countMergeState(failed_attempts),
    sumMergeState(input_tokens),
    sumMergeState(cached_input_tokens),
    sumMergeState(output_tokens),
    sumMergeState(cost_usd),
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(latency_ms_quantiles),
    countMergeState(ttft_observed),
    quantilesTDigestMergeState(0.5, 0.95, 0.99)(ttft_ms_quantiles)
FROM switchboard.usage_hourly
GROUP BY day, tenant_id, vendor, model, task;
