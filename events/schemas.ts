// The event contract. Every event is an envelope plus one payload; the
// `schema_version` literal is part of each type, so a v2 is a new schema and
// old events are upcast (see upcasters.ts), never reinterpreted.
// Field names follow the OpenTelemetry GenAI conventions where one exists:
// request_model = gen_ai.request.model, response_model = gen_ai.response.model,
// input_tokens / output_tokens = gen_ai.usage.*; `vendor` is the operator's
// configured vendor id (gen_ai.provider.name is the vendor's protocol).
import { z } from "zod";
import { DECIMAL_STRING_PATTERN } from "./money.ts";

const identifier = z.string().min(1).max(256);
const count = z.number().int().min(0);
const milliseconds = z.number().int().min(0);

const envelope = {
  event_id: z.uuid({ version: "v7" }),
  occurred_at: z.iso.datetime({ precision: 3 }).describe("UTC, milliseconds, ending in Z"),
  tenant_id: identifier,
  request_id: identifier,
};

export const ERROR_CLASSES = [
  "rate_limited",
  "server_error",
  "timeout",
  "connect_error",
  "bad_response",
  "client_error",
  "client_closed",
] as const;
export const errorClass = z.enum(ERROR_CLASSES);
export type ErrorClass = z.infer<typeof errorClass>;

export const routeCandidate = z.object({
  vendor: identifier,
  model: identifier,
  rank: z.number().int().min(1).describe("1 = tried first"),
  skipped_reason: z.string().nullable().describe("why this candidate will not be tried, or null"),
});

export const routeDecidedV1 = z.object({
  ...envelope,
  event_type: z.literal("route_decided"),
  schema_version: z.literal(1),
  task: identifier,
  request_model: identifier,
  policy: z.enum(["fallback"]),
  candidates: z.array(routeCandidate),
  chosen_vendor: identifier.nullable(),
  chosen_model: identifier.nullable(),
  reason: z.string(),
});

export const attemptFailedV1 = z.object({
  ...envelope,
  event_type: z.literal("attempt_failed"),
  schema_version: z.literal(1),
  task: identifier,
  request_model: identifier,
  vendor: identifier,
  model: identifier,
  attempt: z.number().int().min(1),
  streamed: z.boolean(),
  error_class: errorClass,
  http_status: z.number().int().min(100).max(599).nullable(),
  latency_ms: milliseconds,
});

export const requestCompletedV1 = z.object({
  ...envelope,
  event_type: z.literal("request_completed"),
  schema_version: z.literal(1),
  task: identifier,
  request_model: identifier,
  vendor: identifier.nullable().describe("the vendor that answered, or the last one tried"),
  model: identifier.nullable(),
  response_model: z.string().nullable(),
  attempts: z.number().int().min(0),
  streamed: z.boolean(),
  status: z.enum(["success", "error"]),
  http_status: z.number().int().min(100).max(599),
  error_class: errorClass.nullable(),
  input_tokens: count.describe("the whole prompt, cache reads and cache writes included"),
  output_tokens: count.describe("everything generated, reasoning included"),
  cached_input_tokens: count.describe("prompt tokens read from the vendor's cache"),
  // Added after v1 shipped, with defaults that are true of every event written
  // before: no vendor then reported cache writes or reasoning apart, and all
  // usage was the vendor's own.
  cache_write_input_tokens: count
    .default(0)
    .describe("prompt tokens written to the vendor's cache (Anthropic)"),
  reasoning_tokens: count.default(0).describe("hidden reasoning tokens, part of output_tokens"),
  usage_source: z
    .enum(["reported", "estimated"])
    .default("reported")
    .describe("estimated: the vendor reported no usage (an aborted stream); the gateway counted"),
  cost_usd: z.string().regex(DECIMAL_STRING_PATTERN).describe("exact decimal USD"),
  price_card_version: z.string(),
  latency_ms: milliseconds,
  ttft_ms: milliseconds.nullable().describe("time to first token; null when none arrived"),
});

/** Lowercase letters, digits, `.`, `_`, `-`: metric names and categories become keys in reports. */
const qualityName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "lowercase letters, digits, . _ -");

export const QUALITY_SOURCES = ["human", "eval", "heuristic"] as const;

/**
 * A score is one of three kinds, told apart by `type`. A number carries the
 * range it was scored in, so a 4 out of 5 is never read as a 4 out of 10.
 */
export const qualityValue = z.discriminatedUnion("type", [
  z.object({ type: z.literal("boolean"), boolean: z.boolean() }),
  z
    .object({
      type: z.literal("number"),
      number: z.number(),
      minimum: z.number().describe("the lowest score the scale allows"),
      maximum: z.number().describe("the highest score the scale allows"),
    })
    .refine((value) => value.minimum < value.maximum, {
      message: "minimum must be below maximum",
      path: ["minimum"],
    })
    .refine((value) => value.number >= value.minimum && value.number <= value.maximum, {
      message: "number must lie within [minimum, maximum]",
      path: ["number"],
    }),
  z.object({ type: z.literal("category"), category: qualityName }),
]);
export type QualityValue = z.infer<typeof qualityValue>;

/** A quality score for one request; the envelope's request_id is the request scored. */
export const qualityScoredV1 = z
  .object({
    ...envelope,
    event_type: z.literal("quality_scored"),
    schema_version: z.literal(1),
    metric: qualityName.describe("what was scored, e.g. json_valid, helpful, exact_match"),
    value: qualityValue,
    source: z.enum(QUALITY_SOURCES).describe("who scored: a person, a gold-set eval, a heuristic"),
    gold_set_name: identifier.nullable().describe("the gold set an eval score comes from"),
    gold_set_version: identifier.nullable(),
    comment: z.string().max(2000).nullable(),
  })
  .refine((event) => (event.gold_set_name === null) === (event.gold_set_version === null), {
    message: "gold_set_name and gold_set_version come together",
    path: ["gold_set_version"],
  });

export const switchboardEvent = z.discriminatedUnion("event_type", [
  routeDecidedV1,
  attemptFailedV1,
  requestCompletedV1,
  qualityScoredV1,
]);

export type RouteDecided = z.infer<typeof routeDecidedV1>;
export type AttemptFailed = z.infer<typeof attemptFailedV1>;
export type RequestCompleted = z.infer<typeof requestCompletedV1>;
export type QualityScored = z.infer<typeof qualityScoredV1>;
export type SwitchboardEvent = z.infer<typeof switchboardEvent>;
export type EventType = SwitchboardEvent["event_type"];

/** The newest schema of each event type, which ingest upcasts everything to. */
export const CURRENT_SCHEMAS = {
  route_decided: routeDecidedV1,
  attempt_failed: attemptFailedV1,
  request_completed: requestCompletedV1,
  quality_scored: qualityScoredV1,
} as const;

export const EVENT_TYPES = Object.keys(CURRENT_SCHEMAS) as EventType[];
