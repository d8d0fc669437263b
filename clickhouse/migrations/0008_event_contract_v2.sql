-- Columns for version 2 of route_decided, attempt_failed and request_completed
-- (events/schemas.ts), and the table of the new budget_alerted event. Each
-- default is what a row written before this migration means, as the
-- upcasters in events/upcasters.ts say for v1 events read later.

-- Who called, what the request cost at list and contracted prices, whether
-- a price was known, the opt-in prompt hash and the gateway's warnings.
-- Key and team are '' when unknown, like vendor, so they group without NULLs.
ALTER TABLE switchboard.request_completed
    ADD COLUMN IF NOT EXISTS key_id LowCardinality(String) DEFAULT '' AFTER request_id,
    ADD COLUMN IF NOT EXISTS team LowCardinality(String) DEFAULT '' AFTER key_id,
    ADD COLUMN IF NOT EXISTS tags Array(LowCardinality(String)) DEFAULT [] AFTER team,
    ADD COLUMN IF NOT EXISTS list_cost_usd Decimal(38, 18) DEFAULT cost_usd AFTER cost_usd,
    ADD COLUMN IF NOT EXISTS contract_id LowCardinality(Nullable(String)) DEFAULT NULL AFTER list_cost_usd,
    ADD COLUMN IF NOT EXISTS price_known Bool DEFAULT true AFTER contract_id,
    ADD COLUMN IF NOT EXISTS prompt_sha256 Nullable(String) DEFAULT NULL,
    ADD COLUMN IF NOT EXISTS warnings Array(String) DEFAULT [];

-- The stable error code and what the gateway did next; v1 gateways always
-- moved to the next candidate at once.
ALTER TABLE switchboard.attempt_failed
    ADD COLUMN IF NOT EXISTS error_code LowCardinality(String) DEFAULT '' AFTER error_class,
    ADD COLUMN IF NOT EXISTS next_action LowCardinality(String) DEFAULT 'next_candidate' AFTER error_code,
    ADD COLUMN IF NOT EXISTS backoff_ms Nullable(UInt32) DEFAULT NULL AFTER next_action;

-- How the task was found and each candidate's score. The scores sit beside
-- the candidates array, index for index, rather than in its tuple: a stored
-- column's tuple type cannot change.
ALTER TABLE switchboard.route_decided
    ADD COLUMN IF NOT EXISTS task_source LowCardinality(String) DEFAULT 'header' AFTER task,
    ADD COLUMN IF NOT EXISTS score_basis LowCardinality(Nullable(String)) DEFAULT NULL AFTER policy,
    ADD COLUMN IF NOT EXISTS candidate_scores Array(Nullable(Decimal(38, 18))) DEFAULT [] AFTER candidates;

CREATE TABLE IF NOT EXISTS switchboard.budget_alerted
(
    event_id        UUID,
    schema_version  UInt16,
    occurred_at     DateTime64(3, 'UTC'),
    ingested_at     DateTime64(3, 'UTC') DEFAULT now64(3),
    tenant_id       LowCardinality(String),
    request_id      String,
    budget_id       LowCardinality(String),
    scope           LowCardinality(String),
    scope_id        LowCardinality(String),
    unit            LowCardinality(String),
    period          LowCardinality(String),
    period_start    DateTime64(3, 'UTC'),
    threshold       Decimal(38, 18),
    spent           Decimal(38, 18),
    level           LowCardinality(String),
    INDEX ingested_at_range ingested_at TYPE minmax GRANULARITY 1  -- for exports, as 0005
)
ENGINE = ReplacingMergeTree
-- Laid out like every event table, so ingest's stored-id lookup works alike.
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, occurred_at, event_id);
