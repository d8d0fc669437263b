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

export const TASK_SOURCES = ["header", "metadata", "rule", "default"] as const;
export const ROUTING_POLICIES = ["fallback", "cheapest", "lowest_latency", "weighted"] as const;

const decimalScore = z
  .string()
  .regex(DECIMAL_STRING_PATTERN)
  .describe("a decimal string, never a float: scores are often prices");

/** v2: how the task was found, and each candidate's score under the policy. */
export const routeDecidedV2 = routeDecidedV1.extend({
  schema_version: z.literal(2),
  task_source: z
    .enum(TASK_SOURCES)
    .describe("x-switchboard-task header, metadata.task, an operator rule, or the default"),
  policy: z.enum(ROUTING_POLICIES),
  score_basis: z
    .string()
    .max(64)
    .nullable()
    .describe("what the scores mean, e.g. usd_per_estimated_request, ewma_latency_ms, weight"),
  candidates: z.array(
    routeCandidate.extend({
      score: decimalScore.nullable().describe("this candidate's score; null when unscored"),
    }),
  ),
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

export const NEXT_ACTIONS = ["retry", "next_candidate", "give_up"] as const;

/** v2: the stable error code, and what the gateway did next. */
export const attemptFailedV2 = attemptFailedV1.extend({
  schema_version: z.literal(2),
  error_code: z
    .string()
    .min(1)
    .max(64)
    .describe("the gateway's stable code, e.g. upstream_rate_limited"),
  next_action: z
    .enum(NEXT_ACTIONS)
    .describe("retry the same candidate, move to the next, or give up"),
  backoff_ms: milliseconds
    .nullable()
    .describe("wait before the next attempt, retry-after honoured"),
});

/** v3: who called (key, team, tags), so failed attempts count by team, key and tag too. */
export const attemptFailedV3 = attemptFailedV2.extend({
  schema_version: z.literal(3),
  key_id: identifier.nullable().describe("the gateway API key's id; null for upcast older events"),
  team: identifier.nullable(),
  tags: z.array(z.string().min(1).max(64)).max(20),
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

const tag = z.string().min(1).max(64);

/**
 * v2: who called (key, team, tags), list and contracted cost, whether the
 * model had a price at all, the opt-in prompt hash and the gateway's warnings.
 */
export const requestCompletedV2 = requestCompletedV1.extend({
  schema_version: z.literal(2),
  cache_write_input_tokens: count.describe(
    "prompt tokens written to the vendor's cache (Anthropic)",
  ),
  reasoning_tokens: count.describe("hidden reasoning tokens, part of output_tokens"),
  usage_source: z
    .enum(["reported", "estimated"])
    .describe("estimated: the vendor reported no usage (an aborted stream); the gateway counted"),
  key_id: identifier
    .nullable()
    .describe("the gateway API key's id; null only for upcast v1 events"),
  team: identifier.nullable(),
  tags: z.array(tag).max(20),
  list_cost_usd: z
    .string()
    .regex(DECIMAL_STRING_PATTERN)
    .describe("at the price card's list prices"),
  cost_usd: z
    .string()
    .regex(DECIMAL_STRING_PATTERN)
    .describe(
      "exact decimal USD owed: the contracted cost, the list cost when no contract applies",
    ),
  contract_id: identifier.nullable(),
  price_known: z
    .boolean()
    .describe("false: no price card for this vendor and model, and both costs are 0"),
  prompt_sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable()
    .describe("only for keys that opt in; what is hashed is in the README"),
  warnings: z
    .array(z.string().max(500))
    .max(20)
    .describe("the gateway's warnings; never prompt text"),
});

/**
 * How an answer ended, in one meaning across vendors (the gateway's neutral
 * model). `other`: a reason the gateway does not know; the vendor's own word
 * is in `vendor_finish_reason`.
 */
export const FINISH_REASONS = [
  "stop",
  "length",
  "tool_calls",
  "content_filter",
  "stop_sequence",
  "refusal",
  "error",
  "other",
] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/**
 * v3: how the answer ended, in one meaning and in the vendor's own word, so
 * a truncated or filtered answer is never counted as a clean one; and the
 * response model bounded like every identifier (a vendor writes it).
 */
export const requestCompletedV3 = requestCompletedV2.extend({
  schema_version: z.literal(3),
  response_model: z.string().max(256).nullable(),
  finish_reason: z
    .enum(FINISH_REASONS)
    .nullable()
    .describe(
      "how the answer ended; other: a reason the gateway does not know; null: none came (a failure, a cut stream, an upcast v2 event)",
    ),
  vendor_finish_reason: z
    .string()
    .max(64)
    .nullable()
    .describe(
      "the vendor's own finish reason (finish_reason, stop_reason, finishReason) as sent; null when none",
    ),
});

/**
 * The rate class a request was served and billed at. `standard` is a price
 * card's own rates; `batch` (typically half price), `flex` and `priority`
 * are priced apart where a card says so (gateway/pricing.ts). The vendor's
 * own word for it is kept beside (`vendor_service_tier`).
 */
export const SERVICE_TIERS = ["standard", "batch", "flex", "priority"] as const;
export type ServiceTier = (typeof SERVICE_TIERS)[number];

/**
 * v4: the service tier the request was served and billed at, and the
 * vendor's own word for it.
 */
export const requestCompletedV4 = requestCompletedV3.extend({
  schema_version: z.literal(4),
  service_tier: z
    .enum(SERVICE_TIERS)
    .describe(
      "the tier its cost is at: the one the vendor says served it, else the one asked (service_tier or the route), else standard",
    ),
  vendor_service_tier: z
    .string()
    .max(64)
    .nullable()
    .describe(
      "the vendor's own word for the tier that served (OpenAI's service_tier, Anthropic's usage.service_tier) as sent; null when it said none",
    ),
});

/** Lowercase letters, digits, `.`, `_`, `-`: metric names and categories become keys in reports. */
const qualityName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/, "lowercase letters, digits, . _ -");

export const QUALITY_SOURCES = ["human", "eval", "heuristic"] as const;

/**
 * A score within its scale, the scale not empty: checked on the event, and on
 * the feedback body that becomes one (gateway/feedback.ts).
 */
export function withinItsScale<
  T extends z.ZodType<{ number: number; minimum: number; maximum: number }>,
>(schema: T): T {
  return schema
    .refine((value) => value.minimum < value.maximum, {
      message: "minimum must be below maximum",
      path: ["minimum"],
    })
    .refine((value) => value.number >= value.minimum && value.number <= value.maximum, {
      message: "number must lie within [minimum, maximum]",
      path: ["number"],
    });
}

/**
 * A score is one of three kinds, told apart by `type`. A number carries the
 * range it was scored in, so a 4 out of 5 is never read as a 4 out of 10.
 */
export const qualityValue = z.discriminatedUnion("type", [
  z.object({ type: z.literal("boolean"), boolean: z.boolean() }),
  withinItsScale(
    z.object({
      type: z.literal("number"),
      number: z.number(),
      minimum: z.number().describe("the lowest score the scale allows"),
      maximum: z.number().describe("the highest score the scale allows"),
    }),
  ),
  z.object({ type: z.literal("category"), category: qualityName }),
]);
export type QualityValue = z.infer<typeof qualityValue>;

const qualityScoredFields = {
  metric: qualityName.describe("what was scored, e.g. json_valid, helpful, exact_match"),
  value: qualityValue,
  source: z.enum(QUALITY_SOURCES).describe("who scored: a person, a gold-set eval, a heuristic"),
  gold_set_name: identifier.nullable().describe("the gold set an eval score comes from"),
  gold_set_version: identifier.nullable(),
  comment: z.string().max(2000).nullable(),
};

/** A gold set is named by its name and version, both or neither. */
function goldSetNamedWhole(event: {
  gold_set_name: string | null;
  gold_set_version: string | null;
}) {
  return (event.gold_set_name === null) === (event.gold_set_version === null);
}
const GOLD_SET_HALF_NAMED = {
  message: "gold_set_name and gold_set_version come together",
  path: ["gold_set_version"],
};

/** A quality score for one request; the envelope's request_id is the request scored. */
export const qualityScoredV1 = z
  .object({
    ...envelope,
    event_type: z.literal("quality_scored"),
    schema_version: z.literal(1),
    ...qualityScoredFields,
  })
  .refine(goldSetNamedWhole, GOLD_SET_HALF_NAMED);

const completedFields = requestCompletedV4.shape;

/**
 * The scored request as its request_completed recorded it. A score carries
 * these so that scores roll up by vendor, model, task and team, and are
 * windowed by the request's time, without a join to the requests
 * (migration 0011). The gateway fills them: from the answer it scored, or
 * from the request the feedback names (gateway/request-owners.ts).
 */
export const scoredRequest = z.object({
  occurred_at: envelope.occurred_at.describe("the request_completed event's occurred_at"),
  task: completedFields.task,
  vendor: completedFields.vendor,
  model: completedFields.model,
  key_id: completedFields.key_id,
  team: completedFields.team,
  tags: completedFields.tags,
});
export type ScoredRequest = z.infer<typeof scoredRequest>;

/** v2: the score carries the request it scores. */
export const qualityScoredV2 = z
  .object({
    ...envelope,
    event_type: z.literal("quality_scored"),
    schema_version: z.literal(2),
    ...qualityScoredFields,
    scored_request: scoredRequest
      .nullable()
      .describe("the request scored; null only on a v1 score, upcast"),
  })
  .refine(goldSetNamedWhole, GOLD_SET_HALF_NAMED);

export const BUDGET_SCOPES = ["key", "team"] as const;

/**
 * A budget's spend crossed its soft or hard limit in a calendar period; one
 * event per budget, level and period. request_id is the request that crossed.
 */
export const budgetAlertedV1 = z.object({
  ...envelope,
  event_type: z.literal("budget_alerted"),
  schema_version: z.literal(1),
  budget_id: identifier,
  scope: z.enum(BUDGET_SCOPES),
  scope_id: identifier.describe("the key id or the team"),
  unit: z.enum(["usd", "tokens"]),
  period: z.enum(["day", "month"]),
  period_start: z.iso.datetime({ precision: 3 }).describe("UTC start of the calendar period"),
  threshold: z.string().regex(DECIMAL_STRING_PATTERN).describe("the limit crossed, in the unit"),
  spent: z.string().regex(DECIMAL_STRING_PATTERN).describe("the period's spend when it crossed"),
  level: z.enum(["soft", "hard"]),
});

export const switchboardEvent = z.discriminatedUnion("event_type", [
  routeDecidedV2,
  attemptFailedV3,
  requestCompletedV4,
  qualityScoredV2,
  budgetAlertedV1,
]);

export type RouteDecided = z.infer<typeof routeDecidedV2>;
export type AttemptFailed = z.infer<typeof attemptFailedV3>;
export type RequestCompleted = z.infer<typeof requestCompletedV4>;
export type QualityScored = z.infer<typeof qualityScoredV2>;
export type BudgetAlerted = z.infer<typeof budgetAlertedV1>;
export type SwitchboardEvent = z.infer<typeof switchboardEvent>;
export type EventType = SwitchboardEvent["event_type"];

/** The newest schema of each event type, which ingest upcasts everything to. */
export const CURRENT_SCHEMAS = {
  route_decided: routeDecidedV2,
  attempt_failed: attemptFailedV3,
  request_completed: requestCompletedV4,
  quality_scored: qualityScoredV2,
  budget_alerted: budgetAlertedV1,
} as const;

/** Every version ever shipped, for the JSON Schema files warehouses read. */
export const ALL_SCHEMAS = {
  route_decided: { 1: routeDecidedV1, 2: routeDecidedV2 },
  attempt_failed: { 1: attemptFailedV1, 2: attemptFailedV2, 3: attemptFailedV3 },
  request_completed: {
    1: requestCompletedV1,
    2: requestCompletedV2,
    3: requestCompletedV3,
    4: requestCompletedV4,
  },
  quality_scored: { 1: qualityScoredV1, 2: qualityScoredV2 },
  budget_alerted: { 1: budgetAlertedV1 },
} as const;

export const EVENT_TYPES = Object.keys(CURRENT_SCHEMAS) as EventType[];
