-- request_completed v3 (events/schemas.ts) says how an answer ended: in the
-- gateway's one meaning across vendors (stop, length, tool_calls,
-- content_filter, stop_sequence, refusal, error, other) and in the vendor's
-- own word, so a truncated or filtered answer is never counted as a clean
-- one. NULL when none came (a failure, a cut stream) and for every row
-- written before this migration, as the v2 → v3 upcaster says.
ALTER TABLE switchboard.request_completed
    ADD COLUMN IF NOT EXISTS finish_reason LowCardinality(Nullable(String)) DEFAULT NULL AFTER usage_source,
    ADD COLUMN IF NOT EXISTS vendor_finish_reason LowCardinality(Nullable(String)) DEFAULT NULL AFTER finish_reason;
