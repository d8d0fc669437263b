-- request_completed v4 (events/schemas.ts) says at which service tier a
-- request was served and billed (standard, batch, flex, priority), and the
-- vendor's own word for it. Every row written before this migration was
-- priced at its card's standard rates, as the v3 → v4 upcaster says: those
-- rows read 'standard' and NULL.
--
-- Not a key of the usage rollups yet: the matrix reads the raw table when it
-- is grouped or filtered by tier (analytics/matrix-query.ts), exactly, as
-- for key and tag.
ALTER TABLE switchboard.request_completed
    ADD COLUMN IF NOT EXISTS service_tier LowCardinality(String) DEFAULT 'standard' AFTER vendor_finish_reason,
    ADD COLUMN IF NOT EXISTS vendor_service_tier LowCardinality(Nullable(String)) DEFAULT NULL AFTER service_tier;
