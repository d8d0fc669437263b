-- Exports page through each event table in ingest order (analytics/export/):
-- a min-max skip index on ingested_at lets a page read only the granules
-- stored in its time range. Inserts arrive in time order, so each part and
-- granule spans a narrow range of ingested_at and the index prunes well.
-- MATERIALIZE builds the index for rows stored before this migration, in the
-- background; until it finishes those pages read more, never wrong.

ALTER TABLE switchboard.request_completed
    ADD INDEX IF NOT EXISTS ingested_at_range ingested_at TYPE minmax GRANULARITY 1;
ALTER TABLE switchboard.request_completed MATERIALIZE INDEX ingested_at_range;

ALTER TABLE switchboard.attempt_failed
    ADD INDEX IF NOT EXISTS ingested_at_range ingested_at TYPE minmax GRANULARITY 1;
ALTER TABLE switchboard.attempt_failed MATERIALIZE INDEX ingested_at_range;

ALTER TABLE switchboard.route_decided
    ADD INDEX IF NOT EXISTS ingested_at_range ingested_at TYPE minmax GRANULARITY 1;
ALTER TABLE switchboard.route_decided MATERIALIZE INDEX ingested_at_range;

ALTER TABLE switchboard.quality_scored
    ADD INDEX IF NOT EXISTS ingested_at_range ingested_at TYPE minmax GRANULARITY 1;
ALTER TABLE switchboard.quality_scored MATERIALIZE INDEX ingested_at_range;
