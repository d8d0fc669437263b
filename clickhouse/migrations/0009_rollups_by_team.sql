-- The four usage rollups (0003, 0006, 0007) rebuilt with `team` as a key and
-- the figures request_completed v2 carries (0008): the list-price cost beside
-- the contracted one, the requests with no known price, and the cache-write
-- and reasoning token counts.
--
-- An AggregatingMergeTree's sorting key and its states cannot be changed in
-- place with the right values: a column added to it would hold '' and empty
-- states for every row already rolled up. So this migration drops the views
-- and tables, creates them again under the same names with the new columns,
-- and refolds everything from the raw tables, which hold every event. Only
-- the hourly rollup is filled from the raw tables; the three others are fed
-- by views on it, so one backfill fills all four with the same events.
--
-- Run with ingest stopped, as 0003 (every role that starts ingest migrates
-- first). Until it ends the rollups are empty or partial, and the matrix
-- undercounts. The time it takes is one GROUP BY over the raw tables.
--
-- Key and tag are not rolled up: a key has too many values to keep a
-- t-digest per key and hour, and a request with several tags would count in
-- several rows. The matrix reads the raw table when it is grouped or filtered
-- by either (analytics/matrix-query.ts).
--
-- attempt_failed carries no team: failed attempts are rolled up under team ''.

DROP VIEW IF EXISTS switchboard.usage_hourly_from_requests SYNC;
DROP VIEW IF EXISTS switchboard.usage_hourly_from_attempts SYNC;
DROP VIEW IF EXISTS switchboard.usage_daily_from_hourly SYNC;
DROP VIEW IF EXISTS switchboard.usage_hourly_all_tenants_from_hourly SYNC;
DROP VIEW IF EXISTS switchboard.usage_daily_all_tenants_from_hourly SYNC;

-- Every run rebuilds all four from the raw tables, so a run after a failure
-- part-way starts again from here.
DROP TABLE IF EXISTS switchboard.usage_hourly SYNC;
DROP TABLE IF EXISTS switchboard.usage_daily SYNC;
DROP TABLE IF EXISTS switchboard.usage_hourly_all_tenants SYNC;
DROP TABLE IF EXISTS switchboard.usage_daily_all_tenants SYNC;

CREATE TABLE IF NOT EXISTS switchboard.usage_hourly
(
    hour                     DateTime('UTC'),
    tenant_id                LowCardinality(String),
    vendor                   LowCardinality(String),
    model                    LowCardinality(String),
    task                     LowCardinality(String),
    team                     LowCardinality(String),     -- '' when none, and for failed attempts
    requests                 AggregateFunction(count),
    succeeded                AggregateFunction(count),
    failed_over              AggregateFunction(count),   -- requests that needed more than one attempt
    failed_attempts          AggregateFunction(count),   -- from attempt_failed, on the vendor that failed
    unpriced_requests        AggregateFunction(count),   -- price_known = false: both costs are 0
    input_tokens             AggregateFunction(sum, UInt64),
    cached_input_tokens      AggregateFunction(sum, UInt64),
    cache_write_input_tokens AggregateFunction(sum, UInt64),
    output_tokens            AggregateFunction(sum, UInt64),
    reasoning_tokens         AggregateFunction(sum, UInt64),
    cost_usd                 AggregateFunction(sum, Decimal(38, 18)),  -- contracted: what is owed
    list_cost_usd            AggregateFunction(sum, Decimal(38, 18)),  -- at the catalog's list prices
    latency_ms_quantiles     AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32),
    ttft_observed            AggregateFunction(count),   -- requests with a time to first token
    ttft_ms_quantiles        AggregateFunction(quantilesTDigest(0.5, 0.95, 0.99), UInt32)
)
ENGINE = AggregatingMergeTree
-- Monthly partitions, as the raw tables: retention drops the same months.
PARTITION BY toYYYYMM(hour)
-- The matrix filters by the token's tenants and a time range, then groups by
-- the dimensions, which complete the key so one row per hour and group
-- remains after merges. Team last: it is grouped and filtered on least.
ORDER BY (tenant_id, hour, vendor, model, task, team);

CREATE TABLE IF NOT EXISTS switchboard.usage_daily
(
    day                      DateTime('UTC'),
    tenant_id                LowCardinality(String),
    vendor                   LowCardinality(String),
    model                    LowCardinality(String),
    task                     LowCardinality(String),
    team                     LowCardinality(String),
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
-- The matrix reads a range of whole days, then groups by the dimensions that
-- complete the key.
ORDER BY (tenant_id, day, vendor, model, task, team);

-- Without tenant_id, for the matrix an admin asks for across all tenants
-- (0007 says why: twenty-fold fewer t-digests to merge).
CREATE TABLE IF NOT EXISTS switchboard.usage_hourly_all_tenants
(
    hour                     DateTime('UTC'),
    vendor                   LowCardinality(String),
    model                    LowCardinality(String),
    task                     LowCardinality(String),
    team                     LowCardinality(String),
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
-- The all-tenants matrix reads a range of hours, then groups by the
-- dimensions that complete the key.
ORDER BY (hour, vendor, model, task, team);

CREATE TABLE IF NOT EXISTS switchboard.usage_daily_all_tenants
(
    day                      DateTime('UTC'),
    vendor                   LowCardinality(String),
    model                    LowCardinality(String),
    task                     LowCardinality(String),
    team                     LowCardinality(String),
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
-- The all-tenants matrix reads a range of whole days, then groups by the
-- dimensions that complete the key.
ORDER BY (day, vendor, model, task, team);

-- -StateIf (not -IfState) keeps the plain state types above, so the matrix can
-- compute the same states from the raw tables for the partial hours at the
-- edges of a window and merge them with these.
CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_hourly_from_requests
TO switchboard.usage_hourly
AS SELECT
    toStartOfHour(occurred_at)                                    AS hour,
    tenant_id, vendor, model, task, team,
    countState()                                                  AS requests,
    countStateIf(status = 'success')                              AS succeeded,
    countStateIf(attempts > 1)                                    AS failed_over,
    countStateIf(NOT price_known)                                 AS unpriced_requests,
    sumState(input_tokens)                                        AS input_tokens,
    sumState(cached_input_tokens)                                 AS cached_input_tokens,
    sumState(cache_write_input_tokens)                            AS cache_write_input_tokens,
    sumState(output_tokens)                                       AS output_tokens,
    sumState(reasoning_tokens)                                    AS reasoning_tokens,
    sumState(cost_usd)                                            AS cost_usd,
    sumState(list_cost_usd)                                       AS list_cost_usd,
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms)            AS latency_ms_quantiles,
    countStateIf(ttft_ms IS NOT NULL)                             AS ttft_observed,
    quantilesTDigestStateIf(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms), ttft_ms IS NOT NULL)
                                                                  AS ttft_ms_quantiles
FROM switchboard.request_completed
GROUP BY hour, tenant_id, vendor, model, task, team;

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_hourly_from_attempts
TO switchboard.usage_hourly
AS SELECT
    toStartOfHour(occurred_at) AS hour,
    tenant_id, vendor, model, task, '' AS team,
    countState()               AS failed_attempts
FROM switchboard.attempt_failed
GROUP BY hour, tenant_id, vendor, model, task;

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_daily_from_hourly
TO switchboard.usage_daily
AS SELECT
    toStartOfDay(hour)                                                 AS day,
    tenant_id, vendor, model, task, team,
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
GROUP BY day, tenant_id, vendor, model, task, team;

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_hourly_all_tenants_from_hourly
TO switchboard.usage_hourly_all_tenants
AS SELECT
    hour, vendor, model, task, team,
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
GROUP BY hour, vendor, model, task, team;

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_daily_all_tenants_from_hourly
TO switchboard.usage_daily_all_tenants
AS SELECT
    toStartOfDay(hour)                                                 AS day,
    vendor, model, task, team,
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
GROUP BY day, vendor, model, task, team;

-- The backfill: every stored event, read with FINAL, into the hourly rollup;
-- the views above carry each block on to the other three.
INSERT INTO switchboard.usage_hourly
    (hour, tenant_id, vendor, model, task, team, requests, succeeded, failed_over,
     unpriced_requests, input_tokens, cached_input_tokens, cache_write_input_tokens,
     output_tokens, reasoning_tokens, cost_usd, list_cost_usd,
     latency_ms_quantiles, ttft_observed, ttft_ms_quantiles)
SELECT
    toStartOfHour(occurred_at) AS hour,
    tenant_id, vendor, model, task, team,
    countState(),
    countStateIf(status = 'success'),
    countStateIf(attempts > 1),
    countStateIf(NOT price_known),
    sumState(input_tokens),
    sumState(cached_input_tokens),
    sumState(cache_write_input_tokens),
    sumState(output_tokens),
    sumState(reasoning_tokens),
    sumState(cost_usd),
    sumState(list_cost_usd),
    quantilesTDigestState(0.5, 0.95, 0.99)(latency_ms),
    countStateIf(ttft_ms IS NOT NULL),
    quantilesTDigestStateIf(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms), ttft_ms IS NOT NULL)
FROM switchboard.request_completed FINAL
GROUP BY hour, tenant_id, vendor, model, task, team;

INSERT INTO switchboard.usage_hourly (hour, tenant_id, vendor, model, task, team, failed_attempts)
SELECT toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task, '' AS team, countState()
FROM switchboard.attempt_failed FINAL
GROUP BY hour, tenant_id, vendor, model, task;
