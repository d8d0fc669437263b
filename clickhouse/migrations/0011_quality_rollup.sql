-- quality_scored v2 carries the request it scores (events/schemas.ts:
-- scored_request): its time, task, vendor, model, key, team and tags. Stored
-- in columns of their own, they let scores roll up by the request's hour and
-- dimensions with no join to request_completed, which is what made the
-- quality matrix read every request of its window (about 20 s on 100 M
-- requests, bench/RESULTS.md).
--
-- A score stored before this migration, or upcast from v1, has no request:
-- request_occurred_at is NULL and the other columns '' and []. The rollup
-- leaves those out and the matrix joins them to their requests as before
-- (analytics/matrix-query.ts), only when a window has any.

ALTER TABLE switchboard.quality_scored
    ADD COLUMN IF NOT EXISTS request_occurred_at Nullable(DateTime64(3, 'UTC')) AFTER request_id,
    ADD COLUMN IF NOT EXISTS task LowCardinality(String) DEFAULT '' AFTER request_occurred_at,
    ADD COLUMN IF NOT EXISTS vendor LowCardinality(String) DEFAULT '' AFTER task,
    ADD COLUMN IF NOT EXISTS model LowCardinality(String) DEFAULT '' AFTER vendor,
    ADD COLUMN IF NOT EXISTS key_id LowCardinality(String) DEFAULT '' AFTER model,
    ADD COLUMN IF NOT EXISTS team LowCardinality(String) DEFAULT '' AFTER key_id,
    ADD COLUMN IF NOT EXISTS tags Array(LowCardinality(String)) DEFAULT [] AFTER team;

-- The matrix reads the raw scores of a window's partial edge hours, and of
-- the whole window by key or tag, by the request's time: the sorting key is
-- the score's time, so a minmax index skips the rest.
ALTER TABLE switchboard.quality_scored
    ADD INDEX IF NOT EXISTS request_occurred_at_range request_occurred_at TYPE minmax GRANULARITY 1;
ALTER TABLE switchboard.quality_scored MATERIALIZE INDEX request_occurred_at_range;

-- One row per request hour, dimensions and kind of score. A number's scale
-- and a category are part of the key, as the matrix never mixes two scales
-- or two categories; 0 and '' where they do not apply. Sums, not a variance
-- state: the matrix adds the rollup's rows to rows it computes from raw and
-- legacy scores, and sums add up whatever the source.
CREATE TABLE IF NOT EXISTS switchboard.quality_hourly
(
    hour               DateTime('UTC'),               -- the scored request's hour
    tenant_id          LowCardinality(String),
    vendor             LowCardinality(String),
    model              LowCardinality(String),
    task               LowCardinality(String),
    team               LowCardinality(String),
    metric             LowCardinality(String),
    source             LowCardinality(String),
    value_type         LowCardinality(String),
    minimum            Float64,                       -- a number's scale; 0 for others
    maximum            Float64,
    category           LowCardinality(String),        -- '' for non-categories
    scores             SimpleAggregateFunction(sum, UInt64),
    true_scores        SimpleAggregateFunction(sum, UInt64),
    number_sum         SimpleAggregateFunction(sum, Float64),
    number_sum_squares SimpleAggregateFunction(sum, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
-- As usage_hourly: the tenants and a time range first, then the dimensions;
-- the score's kind completes the key so one row per group remains.
ORDER BY (tenant_id, hour, vendor, model, task, team, metric, source, value_type,
          minimum, maximum, category);

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.quality_hourly_from_scores
TO switchboard.quality_hourly
AS SELECT
    toStartOfHour(assumeNotNull(request_occurred_at))            AS hour,
    tenant_id, vendor, model, task, team, metric, source,
    value.type                                                   AS value_type,
    if(value_type = 'number', assumeNotNull(value.minimum), 0)   AS minimum,
    if(value_type = 'number', assumeNotNull(value.maximum), 0)   AS maximum,
    if(value_type = 'category', assumeNotNull(value.category), '') AS category,
    toUInt64(count())                                            AS scores,
    toUInt64(countIf(value.boolean))                             AS true_scores,
    sumIf(assumeNotNull(value.number), value_type = 'number')    AS number_sum,
    sumIf(pow(assumeNotNull(value.number), 2), value_type = 'number') AS number_sum_squares
FROM switchboard.quality_scored
WHERE request_occurred_at IS NOT NULL
GROUP BY hour, tenant_id, vendor, model, task, team, metric, source, value_type,
         minimum, maximum, category;
