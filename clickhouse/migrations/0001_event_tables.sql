-- Raw event tables, one per event type, filled by ingest.
-- ReplacingMergeTree with event_id last in the sorting key: an event delivered
-- twice (at-least-once from the log) collapses to one row; queries read with
-- FINAL so they are exact before background merges run.

CREATE DATABASE IF NOT EXISTS switchboard;

CREATE TABLE IF NOT EXISTS switchboard.request_completed
(
    event_id            UUID,
    schema_version      UInt16,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    tenant_id           LowCardinality(String),
    request_id          String,
    task                LowCardinality(String),
    request_model       LowCardinality(String),
    vendor              LowCardinality(String),  -- '' when no vendor was tried
    model               LowCardinality(String),
    response_model      LowCardinality(Nullable(String)),
    attempts            UInt16,
    streamed            Bool,
    status              LowCardinality(String),
    http_status         UInt16,
    error_class         LowCardinality(Nullable(String)),
    input_tokens        UInt64,
    output_tokens       UInt64,
    cached_input_tokens UInt64,
    cost_usd            Decimal(38, 18),
    price_card_version  LowCardinality(String),
    latency_ms          UInt32,
    ttft_ms             Nullable(UInt32)
)
ENGINE = ReplacingMergeTree
-- Monthly partitions: retention drops whole months; matrices scan a time range.
PARTITION BY toYYYYMM(occurred_at)
-- Matrices filter by tenant and time; event_id makes duplicates collapse
-- (UUIDv7 is not time-ordered as a ClickHouse UUID, so it never leads the key).
ORDER BY (tenant_id, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS switchboard.attempt_failed
(
    event_id        UUID,
    schema_version  UInt16,
    occurred_at     DateTime64(3, 'UTC'),
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3),
    tenant_id       LowCardinality(String),
    request_id      String,
    task            LowCardinality(String),
    request_model   LowCardinality(String),
    vendor          LowCardinality(String),
    model           LowCardinality(String),
    attempt         UInt16,
    streamed        Bool,
    error_class     LowCardinality(String),
    http_status     Nullable(UInt16),
    latency_ms      UInt32
)
ENGINE = ReplacingMergeTree
-- Same layout as request_completed: failover counts are read beside it.
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, occurred_at, event_id);

CREATE TABLE IF NOT EXISTS switchboard.route_decided
(
    event_id        UUID,
    schema_version  UInt16,
    occurred_at     DateTime64(3, 'UTC'),
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3),
    tenant_id       LowCardinality(String),
    request_id      String,
    task            LowCardinality(String),
    request_model   LowCardinality(String),
    policy          LowCardinality(String),
    candidates      Array(Tuple(vendor String, model String, rank UInt16, skipped_reason Nullable(String))),
    chosen_vendor   LowCardinality(Nullable(String)),
    chosen_model    LowCardinality(Nullable(String)),
    reason          String
)
ENGINE = ReplacingMergeTree
-- Decisions are read per tenant over a time range, like the other event tables.
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, occurred_at, event_id);

-- Events that failed validation, with their original bytes and where they came
-- from, so nothing accepted by the log is ever silently lost.
CREATE TABLE IF NOT EXISTS switchboard.dead_letters
(
    received_at      DateTime64(3, 'UTC'),
    source_topic     LowCardinality(String),
    source_partition UInt32,
    source_offset    UInt64,
    reason           String,
    payload          String,
    payload_bytes    UInt32
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
-- One row per source position: a redelivered poison event collapses.
ORDER BY (source_topic, source_partition, source_offset);
