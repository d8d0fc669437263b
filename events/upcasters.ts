import { CURRENT_SCHEMAS, type EventType } from "./schemas.ts";

type RawEvent = Record<string, unknown>;
type Upcaster = (event: RawEvent) => RawEvent;

/**
 * For each event type, the step from version N to N+1, keyed by N, so events
 * of every version ever shipped stay readable forever. Each step fills a new
 * field with what was true when the older version was written.
 */
const UPCASTERS: Record<EventType, Record<number, Upcaster>> = {
  route_decided: {
    // v1 gateways read the task from the header only, ran ordered fallback
    // and scored nothing.
    1: (event) => ({
      ...event,
      schema_version: 2,
      task_source: event.task === "general" ? "default" : "header",
      score_basis: null,
      candidates: Array.isArray(event.candidates)
        ? event.candidates.map((candidate: RawEvent) => ({ ...candidate, score: null }))
        : event.candidates,
    }),
  },
  attempt_failed: {
    // v1 gateways never retried a candidate: a failure moved to the next one
    // at once. The stable code is the one each error class always mapped to.
    1: (event) => ({
      ...event,
      schema_version: 2,
      error_code: V1_ERROR_CODES[String(event.error_class)] ?? "upstream_server_error",
      next_action: "next_candidate",
      backoff_ms: null,
    }),
    // v2 attempts did not say who called.
    2: (event) => ({ ...event, schema_version: 3, key_id: null, team: null, tags: [] }),
  },
  request_completed: {
    // v1 knew no keys' teams or tags, no contracts and no prompt hashes, and
    // refused to route to an unpriced model, so list equals owed and every
    // price was known.
    1: (event) => ({
      cache_write_input_tokens: 0,
      reasoning_tokens: 0,
      usage_source: "reported",
      ...event,
      schema_version: 2,
      key_id: null,
      team: null,
      tags: [],
      list_cost_usd: event.cost_usd,
      contract_id: null,
      price_known: true,
      prompt_sha256: null,
      warnings: [],
    }),
    // v2 gateways did not record how an answer ended.
    2: (event) => ({
      ...event,
      schema_version: 3,
      finish_reason: null,
      vendor_finish_reason: null,
    }),
    // v3 gateways priced every request at its card's standard rates and
    // read no tier from the vendor.
    3: (event) => ({
      ...event,
      schema_version: 4,
      service_tier: "standard",
      vendor_service_tier: null,
    }),
  },
  quality_scored: {
    // v1 scores named only their request: its vendor, model, task and time
    // are found by joining to the requests (analytics/matrix-query.ts).
    1: (event) => ({ ...event, schema_version: 2, scored_request: null }),
  },
  budget_alerted: {},
};

/**
 * The gateway code of a v1 attempt failure, by its class. v1 emitted
 * attempt_failed only for retryable failures, and the only retryable
 * client_error was the vendor refusing the gateway's own key.
 */
const V1_ERROR_CODES: Record<string, string> = {
  rate_limited: "upstream_rate_limited",
  server_error: "upstream_server_error",
  timeout: "upstream_timeout",
  connect_error: "upstream_unreachable",
  bad_response: "upstream_bad_response",
  client_error: "upstream_auth_failed",
};

export function currentVersion(eventType: EventType): number {
  return CURRENT_SCHEMAS[eventType].shape.schema_version.value;
}

/** Brings a raw event up to its type's current version, or says why it cannot. */
export function upcast(
  eventType: EventType,
  event: RawEvent,
): { event: RawEvent } | { reason: string } {
  const target = currentVersion(eventType);
  let version = event.schema_version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    return { reason: `schema_version must be a positive integer, got ${JSON.stringify(version)}` };
  }
  if (version > target) {
    return { reason: `${eventType} schema_version ${version} is newer than ${target}` };
  }
  let current = event;
  while (version < target) {
    const step = UPCASTERS[eventType][version];
    if (!step) return { reason: `no upcaster for ${eventType} v${version}` };
    current = step(current);
    version += 1;
  }
  return { event: current };
}
