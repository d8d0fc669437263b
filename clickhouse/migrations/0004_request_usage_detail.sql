-- request_completed gains the usage detail every vendor now reports in one
-- meaning (gateway/neutral.ts): cache writes (Anthropic) and reasoning tokens
-- (OpenAI's reasoning_tokens, Gemini's thoughtsTokenCount), both parts of the
-- input and output counts already stored, and whether the vendor reported the
-- usage or the gateway estimated it (an aborted stream). The defaults are what
-- every row written before this migration means.

ALTER TABLE switchboard.request_completed
    ADD COLUMN IF NOT EXISTS cache_write_input_tokens UInt64 DEFAULT 0 AFTER cached_input_tokens,
    ADD COLUMN IF NOT EXISTS reasoning_tokens UInt64 DEFAULT 0 AFTER cache_write_input_tokens,
    ADD COLUMN IF NOT EXISTS usage_source LowCardinality(String) DEFAULT 'reported' AFTER reasoning_tokens;
