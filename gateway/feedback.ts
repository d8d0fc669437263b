// POST /v1/feedback: a score for one of the caller's requests, published as a
// quality_scored event. Authenticated with the chat API keys; the request must
// be the caller's tenant's (request-owners.ts says how that is known, and its
// limits). Strict: an unknown field or a bad value answers 400 naming it.
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { EventSink } from "../eventlog/ports.ts";
import { eventTime, newEventId } from "../events/ids.ts";
import {
  QUALITY_SOURCES,
  type QualityScored,
  type QualityValue,
  qualityScoredV2,
  qualityValue,
  type ScoredRequest,
  withinItsScale,
} from "../events/schemas.ts";
import { callerOf } from "./auth.ts";
import { GatewayError } from "./errors.ts";
import { formatParameterPath } from "./inbound/inbound-api.ts";
import type { RequestOwners } from "./request-owners.ts";

// The event's own field schemas, so the endpoint and the contract cannot drift apart.
const eventFields = qualityScoredV2.shape;

const feedbackBody = z.strictObject({
  request_id: eventFields.request_id,
  metric: eventFields.metric,
  value: z.unknown().refine((value) => value !== undefined, "required"),
  source: z.enum(QUALITY_SOURCES).default("human"),
  comment: eventFields.comment.optional(),
  gold_set_name: eventFields.gold_set_name.optional(),
  gold_set_version: eventFields.gold_set_version.optional(),
});

const finite = z.number().refine(Number.isFinite, "must be a finite number");
const numberValue = withinItsScale(
  z.strictObject({ number: finite, minimum: finite, maximum: finite }),
);
const categoryValue = z.strictObject({ category: qualityValue.options[2].shape.category });

export type FeedbackBody = z.infer<typeof feedbackBody>;

/**
 * The body, validated, with its value in the event's shape. `value` is
 * `true`/`false`, a category (`"good"` or `{"category": "good"}`), a number on
 * its scale (`{"number": 4, "minimum": 1, "maximum": 5}`), or the event's own
 * typed form (`{"type": "boolean", "boolean": true}`).
 */
export function parseFeedback(body: unknown): FeedbackBody & { value: QualityValue } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new GatewayError("invalid_request", "The request body must be a JSON object.");
  }
  const parsed = check(feedbackBody, body, []);
  const value = parseValue(parsed.value);
  const { gold_set_name: name, gold_set_version: version } = parsed;
  if ((name == null) !== (version == null)) {
    throw invalid(
      name == null ? "gold_set_name" : "gold_set_version",
      "gold_set_name and gold_set_version come together",
    );
  }
  if (name != null && parsed.source !== "eval") {
    throw invalid("source", "a gold set is given only with source eval");
  }
  return { ...parsed, value };
}

function parseValue(value: unknown): QualityValue {
  if (typeof value === "boolean") return { type: "boolean", boolean: value };
  if (typeof value === "string") {
    return { type: "category", category: check(categoryValue.shape.category, value, ["value"]) };
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    if ("type" in value) return check(qualityValue, value, ["value"]);
    if ("category" in value) {
      return { type: "category", category: check(categoryValue, value, ["value"]).category };
    }
    if ("number" in value || "minimum" in value || "maximum" in value) {
      return { type: "number", ...check(numberValue, value, ["value"]) };
    }
  }
  throw invalid(
    "value",
    'must be true or false, a category ("good" or {"category": "good"}), or {"number", "minimum", "maximum"}',
  );
}

/** Parses `input` at `path` in the body, or throws a 400 naming the first bad field. */
function check<T extends z.ZodType>(schema: T, input: unknown, path: PropertyKey[]): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw invalid(formatParameterPath(path) || "body", "invalid");
  const at = [...path, ...issue.path];
  if (issue.code === "unrecognized_keys") {
    throw invalid(formatParameterPath([...at, issue.keys[0] ?? ""]), "unknown field");
  }
  const message =
    issue.code === "invalid_type" && issue.input === undefined ? "required" : issue.message;
  throw invalid(formatParameterPath(at) || "body", message);
}

function invalid(param: string, message: string): GatewayError {
  return new GatewayError("invalid_request", `Invalid value for '${param}': ${message}`, { param });
}

export interface FeedbackDependencies {
  owners: RequestOwners;
  sink: EventSink;
}

export function feedbackRoute(dependencies: FeedbackDependencies) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header("x-request-id", request.id);
    // Authenticated in onRequest (app.ts), before the body was read.
    const caller = callerOf(request);
    const feedback = parseFeedback(request.body);
    let scored: ScoredRequest | null;
    try {
      scored = await dependencies.owners.requestOf(feedback.request_id, caller.tenantId);
    } catch (error) {
      throw new GatewayError(
        "internal_error",
        "The gateway could not look the request up; try again.",
        { cause: error },
      );
    }
    if (!scored) {
      // The same answer for another tenant's request as for none: ids are not disclosed.
      throw new GatewayError(
        "request_not_found",
        // Not even the id is repeated: the two answers are byte for byte the same.
        "No request of yours with this request_id is known to this gateway.",
        { param: "request_id" },
      );
    }
    const event: QualityScored = {
      event_id: newEventId(),
      occurred_at: eventTime(),
      tenant_id: caller.tenantId,
      request_id: feedback.request_id,
      event_type: "quality_scored",
      schema_version: 2,
      metric: feedback.metric,
      value: feedback.value,
      source: feedback.source,
      gold_set_name: feedback.gold_set_name ?? null,
      gold_set_version: feedback.gold_set_version ?? null,
      comment: feedback.comment ?? null,
      scored_request: scored,
    };
    dependencies.sink.publish(event);
    reply.code(202);
    return { object: "feedback", event_id: event.event_id, request_id: event.request_id };
  };
}
