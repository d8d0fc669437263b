-- Quality scores, one row per quality_scored event (events/schemas.ts), filled
-- by ingest like the other event tables. A score names the request it scores
-- by request_id; its vendor, model and task are read from request_completed,
-- because the scorer (a person, an eval, a heuristic) need not know them.

CREATE TABLE IF NOT EXISTS switchboard.quality_scored
(
    event_id         UUID,
    schema_version   UInt16,
    occurred_at      DateTime64(3, 'UTC'),  -- when the score was given, not when the request ran
    ingested_at      DateTime64(3, 'UTC') DEFAULT now64(3),
    tenant_id        LowCardinality(String),
    request_id       String,                -- the request scored
    metric           LowCardinality(String),
    -- The event's `value` as it arrives: `type` says which of the other
    -- elements is set (boolean; number with its scale; category).
    value            Tuple(
                         type     LowCardinality(String),
                         boolean  Nullable(Bool),
                         number   Nullable(Float64),
                         minimum  Nullable(Float64),
                         maximum  Nullable(Float64),
                         category Nullable(String)
                     ),
    source           LowCardinality(String),
    gold_set_name    LowCardinality(Nullable(String)),
    gold_set_version LowCardinality(Nullable(String)),
    comment          Nullable(String)
)
ENGINE = ReplacingMergeTree
-- Monthly partitions like the other event tables: retention drops whole months.
PARTITION BY toYYYYMM(occurred_at)
-- The matrix reads one tenant's scores given at or after the start of the
-- window it reports on (a score never precedes its request); event_id last so
-- a redelivered event collapses under FINAL.
ORDER BY (tenant_id, occurred_at, event_id);
