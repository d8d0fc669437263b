-- attempt_failed v3 says who called (events/schemas.ts), so a failed attempt
-- counts under its team in the rollups and under its key and tags in the raw
-- matrix, like the request it belonged to. Rows written before this
-- migration keep '' and [], which is what their upcaster gives: v2 events
-- did not say.

ALTER TABLE switchboard.attempt_failed
    ADD COLUMN IF NOT EXISTS key_id LowCardinality(String) DEFAULT '' AFTER request_id,
    ADD COLUMN IF NOT EXISTS team LowCardinality(String) DEFAULT '' AFTER key_id,
    ADD COLUMN IF NOT EXISTS tags Array(LowCardinality(String)) DEFAULT [] AFTER team;

-- The view that feeds usage_hourly from failed attempts, again with the team
-- (0009 wrote '' for it). Rows already in the rollup stay as they are: their
-- events carried no team. Dropped and created in one migration run with
-- ingest stopped, as every rollup change.
DROP VIEW IF EXISTS switchboard.usage_hourly_from_attempts SYNC;

CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.usage_hourly_from_attempts
TO switchboard.usage_hourly
AS SELECT
    toStartOfHour(occurred_at) AS hour,
    tenant_id, vendor, model, task, team,
    countState()               AS failed_attempts
FROM switchboard.attempt_failed
GROUP BY hour, tenant_id, vendor, model, task, team;
