-- Hourly rollup of requests and failed attempts by tenant, vendor, model and
-- task, for the matrix (analytics/matrix-query.ts). Materialized views add each
-- insert into the raw tables as partial aggregate states; reads merge them with
-- -Merge. Counts and Decimal sums are exact; latency and time-to-first-token
-- quantiles are t-digests, which the API reports as approximate.
--
-- A materialized view sees every inserted row, not the table after FINAL: the
-- rollup equals the raw tables because ingest never inserts an event_id twice.
-- Team and tag are not in the events yet, so they are not rollup keys.

CREATE TABLE IF NOT EXISTS switchboard.usage_hourly
(
    hour                 DateTime('UTC'),
    tenant_id            LowCardinality(String),
    vendor               LowCardinality(String),
    model                LowCardinality(String),
    task                 LowCardinality(String),
    requests             AggregateFunction(count),
    succeeded            AggregateFunction(count),
    failed_over          AggregateFunction(count),   -- requests that needed more than one attempt
    failed_attempts      AggregateFunction(count),   -- from attempt_failed, on the vendor that failed
    input_tokens         AggregateFunction(sum, UInt64),
    cached_input_tokens  AggregateFunction(sum, UInt64),
    output_tokens        AggregateFunction(sum, UInt64),
    cost_usd             AggregateFunction(sum, Decimal(38, 18)),
    latency_ms_quantiles AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32),
    ttft_observed        AggregateFunction(count),   -- requests with a time to first token
    ttft_ms_quantiles    AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32)
)
ENGINE = AggregatingMergeTree
-- Monthly partitions, as the raw tables: retention drops the same months.
PARTITION BY toYYYYMM(hour)
-- The matrix filters by the token's tenants and a time range, then groups by
-- the dimensions, which complete the key so one row per hour and group remains
-- after merges.
ORDER BY (tenant_id, hour, vendor, model, task);

-- -StateIf (not -IfState) keeps the plain state types above, so the matrix can
-- compute the same states from the raw tables for the partial hours at the
-- edges of a window and merge them with these.
CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_hourly_from_requests
TO switchboard.usage_hourly
AS SELECT
    toStartOfHour(occurred_at)                                    AS hour,
    tenant_id, vendor, model, task,
    countState()                                                  AS requests,
    countStateIf(status = 'success')                              AS succeeded,
    countStateIf(attempts > 1)                                    AS failed_over,
    sumState(input_tokens)                                        AS input_tokens,
    sumState(cached_input_tokens)                                 AS cached_input_tokens,
    sumState(output_tokens)                                       AS output_tokens,
    sumState(cost_usd)                                            AS cost_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms)            AS latency_ms_quantiles,
    countStateIf(ttft_ms IS NOT NULL)                             AS ttft_observed,
    quantilesTDigestStateIf(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms), ttft_ms IS NOT NULL)
                                                                  AS ttft_ms_quantiles
FROM switchboard.request_completed
GROUP BY hour, tenant_id, vendor, model, task;

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_hourly_from_attempts
TO switchboard.usage_hourly
AS SELECT
    toStartOfHour(occurred_at) AS hour,
    tenant_id, vendor, model, task,
    countState()               AS failed_attempts
FROM switchboard.attempt_failed
GROUP BY hour, tenant_id, vendor, model, task;

-- Events stored before this migration: a view only sees inserts made after it
-- exists, so fold the raw tables in once. Run with ingest stopped (every role
-- that starts ingest migrates first), or an insert racing this one would be
-- counted twice.
INSERT INTO switchboard.usage_hourly
    (hour, tenant_id, vendor, model, task, requests, succeeded, failed_over,
     input_tokens, cached_input_tokens, output_tokens, cost_usd,
     latency_ms_quantiles, ttft_observed, ttft_ms_quantiles)
SELECT
    toStartOfHour(occurred_at) AS hour,
    tenant_id, vendor, model, task,
    countState(),
    countStateIf(status = 'success'),
    countStateIf(attempts > 1),
    sumState(input_tokens),
    sumState(cached_input_tokens),
    sumState(output_tokens),
    sumState(cost_usd),
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms),
    countStateIf(ttft_ms IS NOT NULL),
    quantilesTDigestStateIf(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms), ttft_ms IS NOT NULL)
FROM switchboard.request_completed FINAL
GROUP BY hour, tenant_id, vendor, model, task;

INSERT INTO switchboard.usage_hourly (hour, tenant_id, vendor, model, task, failed_attempts)
SELECT toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task, countState()
FROM switchboard.attempt_failed FINAL
GROUP BY hour, tenant_id, vendor, model, task;
