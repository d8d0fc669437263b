// The gateway under fuzz: the real fastify app (buildGateway, inject), one
// fake vendor per wire protocol on loopback (fake-vendor.ts), a recording
// event sink, and the properties every inbound API of the gateway keeps:
//
// - no 5xx but the documented upstream failures (502/503/504 and their codes);
//   errors in the client's own shape;
// - every request routed has exactly one request_completed, and every answer
//   the client received (2xx) is in it; usage inside the contract;
// - usage as the vendor reported it when inside the contract, estimated with a
//   usage_rejected warning when not; clients told the usage and cost the ledger holds;
// - every event valid (nothing for ingest to dead-letter); no event carries
//   prompt or answer text (the markers), nor a vendor key; no answer carries a
//   vendor key; headers a client can read;
// - a concurrent /healthz answers within 100 ms (responsiveness.ts).
import { randomBytes } from "node:crypto";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { pino } from "pino";
import { parseEvent } from "../../events/parse.ts";
import type { RequestCompleted, SwitchboardEvent } from "../../events/schemas.ts";
import { buildGateway } from "../../gateway/app.ts";
import { sha256Hex } from "../../gateway/auth.ts";
import { gatewayConfig } from "../../gateway/config.ts";
import { GATEWAY_ERRORS, type GatewayErrorCode } from "../../gateway/errors.ts";
import { PriceCatalog } from "../../gateway/pricing.ts";
import { RecordingSink } from "../fixtures/recording-sink.ts";
import { KEY_A, KEY_B } from "./client-requests.ts";
import { FakeVendor, FINISH_REASONS, finishValue, type ServedAttempt } from "./fake-vendor.ts";
import { markersIn } from "./markers.ts";
import { whileProbed } from "./responsiveness.ts";
import type { Violation } from "./runner.ts";
import {
  type ExpectedUsage,
  expectedAnthropicStreamUsage,
  expectedUsage,
  streamIsClean,
  type Usage,
  type VendorPlan,
} from "./vendor-replies.ts";

/** Route names clients send, and the vendor each reaches first. */
export const ROUTES = {
  "to-openai": "vo",
  "to-anthropic": "va",
  "to-gemini": "vg",
  failover: "vo",
} as const;

/** The gateway's codes for a vendor's failure: the only 5xx a client may see. */
export const UPSTREAM_FAILURE_CODES = new Set(
  (Object.keys(GATEWAY_ERRORS) as GatewayErrorCode[]).filter((code) =>
    [502, 503, 504].includes(GATEWAY_ERRORS[code].status),
  ),
);

/** What Node's HTTP client accepts for a whole header block (--max-http-header-size). */
const MAX_HEADER_BYTES = 16 * 1024;

export interface GatewayUnderTest {
  gateway: FastifyInstance;
  vendor: FakeVendor;
  sink: RecordingSink;
  /** The vendor keys the gateway holds: never in an answer or an event. */
  vendorSecrets: string[];
  /** Answers by status, over the whole run. */
  statuses: Map<number, number>;
  /** How often each property applied (checked something), over the whole run. */
  applied: Map<string, number>;
  stop(): Promise<void>;
}

export async function startGatewayUnderTest(): Promise<GatewayUnderTest> {
  const vendor = await FakeVendor.start();
  const secret = (name: string) => `sk-${name}-${randomBytes(12).toString("hex")}`;
  const vendorSecrets = [secret("openai"), secret("anthropic"), secret("gemini")];
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [
      {
        id: "fuzz-a",
        tenant: "tenant-a",
        team: "team-a",
        tags: ["fuzz"],
        sha256: sha256Hex(KEY_A),
        store_prompt_hash: true,
      },
      { id: "fuzz-b", tenant: "tenant-b", sha256: sha256Hex(KEY_B) },
    ],
    vendors: [
      {
        id: "vo",
        protocol: "openai",
        base_url: vendor.baseUrl("openai"),
        api_key: vendorSecrets[0],
      },
      {
        id: "va",
        protocol: "anthropic",
        base_url: vendor.baseUrl("anthropic"),
        api_key: vendorSecrets[1],
      },
      {
        id: "vg",
        protocol: "gemini",
        base_url: vendor.baseUrl("gemini"),
        api_key: vendorSecrets[2],
      },
    ],
    routes: [
      { model: "to-openai", fallback: [{ vendor: "vo", model: "m-openai" }] },
      { model: "to-anthropic", fallback: [{ vendor: "va", model: "m-anthropic" }] },
      { model: "to-gemini", fallback: [{ vendor: "vg", model: "m-gemini" }] },
      {
        model: "failover",
        fallback: [
          { vendor: "vo", model: "m-openai" },
          { vendor: "va", model: "m-anthropic" },
          { vendor: "vg", model: "m-gemini" },
        ],
      },
    ],
    routing: {
      // Retries without waiting, and no breaker: every case meets the vendor it plans for.
      retry: {
        max_retries_per_candidate: 1,
        base_backoff_ms: 0,
        max_backoff_ms: 0,
        max_retry_after_ms: 0,
      },
      circuit_breaker: { enabled: false },
    },
    budgets: [
      {
        id: "team-a-daily",
        scope: "team",
        scope_id: "team-a",
        unit: "usd",
        period: "day",
        soft_limit: "0.5",
      },
    ],
  });
  const prices = new PriceCatalog({
    version: "fuzz-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      { vendor: "vo", model: "m-openai", input: "2.5", cached_input: "1.25", output: "10" },
      {
        vendor: "va",
        model: "m-anthropic",
        input: "3",
        cache_write: "3.75",
        cached_input: "0.3",
        output: "15",
      },
      { vendor: "vg", model: "m-gemini", input: "0.1", output: "0.4", reasoning: "0.4" },
    ],
  });
  const sink = new RecordingSink();
  const gateway = buildGateway({ config, prices, sink, logger: pino({ level: "silent" }) });
  await gateway.ready();
  return {
    gateway,
    vendor,
    sink,
    vendorSecrets,
    statuses: new Map(),
    applied: new Map(),
    async stop() {
      // The vendor first: its open connections end, so no upstream call keeps the gateway's pools open.
      await vendor.close();
      await gateway.close();
    },
  };
}

export interface GatewayCall {
  url: string;
  headers: Record<string, string>;
  payload: string;
  /** The inbound API's error shape. */
  api: "openai" | "anthropic";
  /** The client asked for a stream (its body parsed and said so). */
  streamed: boolean;
  /** A chat or embeddings call, whose 2xx must be in the ledger (feedback's is not routed). */
  routed?: boolean;
  /** A stream whose client asked for usage (OpenAI's stream_options.include_usage; Anthropic always). */
  clientWantsUsage?: boolean;
}

export interface GatewayExchange {
  call: GatewayCall;
  response: LightMyRequestResponse;
  requestId: string | undefined;
  /** What the gateway appended to its sink for this case, as written. */
  records: { topic: string; value: string }[];
  events: SwitchboardEvent[];
  completion: RequestCompleted | undefined;
  served: readonly ServedAttempt[];
}

/** Sends one call with the vendor answering as planned; the exchange and the properties it broke. */
export async function exchange(
  harness: GatewayUnderTest,
  call: GatewayCall,
  plan: VendorPlan,
): Promise<{ exchange: GatewayExchange; violations: Violation[] }> {
  harness.vendor.expect(plan);
  // Only this case's records are kept: a run of 100,000 cases would otherwise hold them all.
  harness.sink.appended.length = 0;
  const from = 0;
  const { result: response, violations } = await whileProbed(harness.gateway, async () => {
    const answer = await harness.gateway.inject({
      method: "POST",
      url: call.url,
      headers: call.headers,
      payload: call.payload,
    });
    await completionsSettled(harness.sink, from, headerOf(answer, "x-request-id"));
    return answer;
  });
  harness.statuses.set(response.statusCode, (harness.statuses.get(response.statusCode) ?? 0) + 1);
  const records = harness.sink.appended.slice(from);
  const events = records
    .filter((record) => !record.topic.endsWith("dead_letter"))
    .map((record) => JSON.parse(record.value) as SwitchboardEvent);
  const requestId = headerOf(response, "x-request-id");
  const completions = events.filter(
    (event): event is RequestCompleted =>
      event.event_type === "request_completed" && event.request_id === requestId,
  );
  const result: GatewayExchange = {
    call,
    response,
    requestId,
    records,
    events,
    completion: completions[0],
    served: harness.vendor.attempts(),
  };
  return { exchange: result, violations: [...violations, ...gatewayChecks(harness, result)] };
}

export function headerOf(response: LightMyRequestResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value === undefined ? undefined : String(value);
}

/**
 * A stream's request_completed is written just after its last byte: waits
 * (a few turns of the event loop, at most 100 ms) until every route_decided
 * of the request has its completion.
 */
async function completionsSettled(
  sink: RecordingSink,
  from: number,
  requestId: string | undefined,
) {
  const deadline = performance.now() + 100;
  for (;;) {
    let decided = 0;
    let completed = 0;
    for (const record of sink.appended.slice(from)) {
      if (record.key !== requestId) continue;
      if (record.topic.endsWith("route_decided")) decided += 1;
      else if (record.topic.endsWith("request_completed")) completed += 1;
    }
    if (completed >= decided || performance.now() > deadline) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Heuristic scores follow their completion in the same turn.
  await new Promise((resolve) => setImmediate(resolve));
}

/** The stable code of an error answer in either API's shape, or null. */
export function errorCodeOf(api: "openai" | "anthropic", body: unknown): string | null {
  if (typeof body !== "object" || body === null) return null;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return null;
  if (api === "openai") {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? code : null;
  }
  // Anthropic's shape has no code: it leads the message.
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" ? (/^([a-z_]+)[ :(]/.exec(message)?.[1] ?? null) : null;
}

function isErrorShape(api: "openai" | "anthropic", body: unknown): boolean {
  if (typeof body !== "object" || body === null) return false;
  const error = (body as { error?: Record<string, unknown> }).error;
  if (typeof error !== "object" || error === null) return false;
  if (typeof error.message !== "string" || typeof error.type !== "string") return false;
  return api === "openai"
    ? typeof error.code === "string"
    : (body as { type?: unknown }).type === "error";
}

function parsedBody(response: LightMyRequestResponse): unknown {
  try {
    return JSON.parse(response.body);
  } catch {
    return undefined;
  }
}

const excerpt = (text: string, length = 300) =>
  text.length <= length ? text : `${text.slice(0, length)}… (${text.length} characters)`;

/** The properties every gateway API keeps, checked on one exchange. */
export function gatewayChecks(harness: GatewayUnderTest, exchanged: GatewayExchange): Violation[] {
  const violations: Violation[] = [];
  const violate = (property: string, detail: string) => violations.push({ property, detail });
  const applied = (what: string) => harness.applied.set(what, (harness.applied.get(what) ?? 0) + 1);
  const { call, response, requestId, events, records } = exchanged;
  const status = response.statusCode;
  const body = parsedBody(response);

  // No 5xx but a vendor's failure, with its documented code and status.
  if (status >= 500) {
    const code = errorCodeOf(call.api, body);
    const documented =
      code !== null &&
      UPSTREAM_FAILURE_CODES.has(code as GatewayErrorCode) &&
      GATEWAY_ERRORS[code as GatewayErrorCode].status === status;
    if (!documented) violate("no_undocumented_5xx", `${status}: ${excerpt(response.body)}`);
  }
  if (status === 200 && call.streamed && /internal_error/.test(response.body)) {
    violate(
      "no_undocumented_5xx",
      `a stream ended with internal_error: ${excerpt(response.body.slice(-600))}`,
    );
  }
  if (status >= 400 && !isErrorShape(call.api, body)) {
    violate("error_in_client_shape", `${status}: ${excerpt(response.body)}`);
  }

  // Exactly once in the ledger.
  const decided = events.filter(
    (event) => event.event_type === "route_decided" && event.request_id === requestId,
  ).length;
  const completions = events.filter(
    (event): event is RequestCompleted =>
      event.event_type === "request_completed" && event.request_id === requestId,
  );
  if (call.routed !== false && status >= 200 && status < 300 && completions.length !== 1) {
    violate(
      "answer_in_ledger_once",
      `answered ${status} with ${completions.length} request_completed (${decided} route_decided)`,
    );
  } else if (completions.length !== decided) {
    violate(
      "answer_in_ledger_once",
      `${decided} route_decided but ${completions.length} request_completed (answered ${status})`,
    );
  }
  const completion = completions[0];
  if (status === 200 && !call.streamed && completion && completion.status !== "success") {
    violate(
      "answer_in_ledger_once",
      `answered 200 but recorded ${completion.status} ${completion.http_status}`,
    );
  }

  for (const event of events) {
    if (event.event_type === "request_completed") {
      const problem = usageOutsideContract(event);
      if (problem) violate("usage_in_contract", `${event.request_id}: ${problem}`);
    }
  }
  if (status === 200 && completion) {
    applied(call.streamed ? "answered_streams" : "answered_whole");
    violations.push(...usageAsReported(exchanged, completion, applied));
    violations.push(...clientToldTheLedger(exchanged, completion, body, applied));
    violations.push(...finishAsSent(exchanged, completion, applied));
    const costHeader = headerOf(response, "x-switchboard-cost-usd");
    if (!call.streamed && costHeader !== completion.cost_usd) {
      violate(
        "cost_header_is_the_ledgers",
        `x-switchboard-cost-usd ${costHeader}, recorded ${completion.cost_usd}`,
      );
    }
  }

  // Events: all valid, none with text or a key.
  for (const record of records) {
    if (record.topic.endsWith("dead_letter")) {
      violate("events_valid", `the gateway wrote a dead letter: ${excerpt(record.value)}`);
      continue;
    }
    const parsed = parseEvent(record.value);
    if (!parsed.ok) violate("events_valid", `${record.topic}: ${excerpt(parsed.reason)}`);
    const markers = markersIn(record.value);
    if (markers.length > 0) {
      violate(
        "no_text_in_events",
        `${record.topic} carries ${markers.join(", ")}: ${excerpt(record.value, 600)}`,
      );
    }
    if (harness.vendorSecrets.some((secret) => record.value.includes(secret))) {
      violate("no_vendor_key_leaves", `${record.topic} carries a vendor key`);
    }
  }

  // What the client gets: no vendor key, headers it can read.
  const headerText = Object.entries(response.headers)
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(", ") : value}\r\n`)
    .join("");
  if (
    harness.vendorSecrets.some(
      (secret) => response.body.includes(secret) || headerText.includes(secret),
    )
  ) {
    violate("no_vendor_key_leaves", `the answer (${status}) carries a vendor key`);
  }
  if (Buffer.byteLength(headerText) > MAX_HEADER_BYTES) {
    const longest = Object.entries(response.headers)
      .map(([name, value]) => [name, String(value).length] as const)
      .sort((a, b) => b[1] - a[1])[0];
    violate(
      "headers_readable",
      `${Buffer.byteLength(headerText)} bytes of headers (${longest?.[0]}: ${longest?.[1]} characters)`,
    );
  }
  return violations;
}

const USAGE_COLUMNS = [
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
  "cache_write_input_tokens",
  "reasoning_tokens",
] as const;

/** Why an event's usage is outside the contract (non-negative safe integers, parts within totals), or null. */
export function usageOutsideContract(event: RequestCompleted): string | null {
  for (const column of USAGE_COLUMNS) {
    const value = event[column] as unknown;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      return `${column} is ${JSON.stringify(value)}`;
    }
  }
  if (event.cached_input_tokens + event.cache_write_input_tokens > event.input_tokens) {
    return `cache reads and writes (${event.cached_input_tokens} + ${event.cache_write_input_tokens}) exceed input_tokens ${event.input_tokens}`;
  }
  if (event.reasoning_tokens > event.output_tokens) {
    return `reasoning_tokens ${event.reasoning_tokens} exceed output_tokens ${event.output_tokens}`;
  }
  return null;
}

/** The usage the answering attempt's reply must have been recorded with, or unclear. */
function expectedFor(served: readonly ServedAttempt[]): ExpectedUsage {
  const last = served.at(-1);
  if (last?.reply.kind !== "answer") return { kind: "unclear" };
  const reply = last.reply;
  if (!last.streamed) {
    return reply.body === "valid" ? expectedUsage(last.protocol, reply.usage) : { kind: "unclear" };
  }
  if (!streamIsClean(reply)) return { kind: "unclear" };
  return last.protocol === "anthropic"
    ? expectedAnthropicStreamUsage(reply.usage, reply.deltaUsage)
    : expectedUsage(last.protocol, reply.usage);
}

function usageOf(event: RequestCompleted): Usage {
  return {
    input_tokens: event.input_tokens,
    output_tokens: event.output_tokens,
    cached_input_tokens: event.cached_input_tokens,
    cache_write_input_tokens: event.cache_write_input_tokens,
    reasoning_tokens: event.reasoning_tokens,
  };
}

/** A finish reason the vendor's own word may hold (adapter.ts keeps words, not text). */
const FINISH_REASON_WORD = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * How the answer ended is recorded as the vendor said it: its word kept in
 * vendor_finish_reason (none: null), and a reason the gateway does not know
 * never recorded as a clean `stop`.
 */
function finishAsSent(
  exchanged: GatewayExchange,
  completion: RequestCompleted,
  applied: (what: string) => void,
): Violation[] {
  const last = exchanged.served.at(-1);
  if (last?.reply.kind !== "answer" || last.protocol === "embeddings") return [];
  const reply = last.reply;
  const whole = !last.streamed && reply.body === "valid";
  if (!whole && !(last.streamed && streamIsClean(reply))) return [];
  const sent = finishValue(last.protocol, reply.finish);
  applied(`finish_checked_${reply.finish.kind}`);
  const recorded = `finish_reason ${completion.finish_reason}, vendor_finish_reason ${JSON.stringify(completion.vendor_finish_reason)}`;
  const wrong = (detail: string): Violation[] => [
    {
      property: "finish_as_sent",
      detail: `${last.protocol} sent ${JSON.stringify(sent)}: ${detail}; recorded ${recorded}`,
    },
  ];
  if (sent === undefined || sent === null) {
    return completion.vendor_finish_reason === null
      ? []
      : wrong("expected no vendor_finish_reason");
  }
  if (FINISH_REASON_WORD.test(sent) && completion.vendor_finish_reason !== sent) {
    return wrong("expected the vendor's word kept");
  }
  if (!FINISH_REASONS[last.protocol].includes(sent) && completion.finish_reason === "stop") {
    return wrong("a reason the gateway does not know recorded as stop");
  }
  return [];
}

/** Usage inside the contract is recorded as reported; outside it, estimated and told. */
function usageAsReported(
  exchanged: GatewayExchange,
  completion: RequestCompleted,
  applied: (what: string) => void,
): Violation[] {
  const expected = expectedFor(exchanged.served);
  applied(`usage_checked_${expected.kind}`);
  const rejectedWarning = completion.warnings.some((warning) =>
    warning.startsWith("usage_rejected"),
  );
  const recorded = `${completion.usage_source} ${JSON.stringify(usageOf(completion))}, warnings ${JSON.stringify(completion.warnings)}`;
  const last = exchanged.served.at(-1);
  const where = `${last?.protocol} ${last?.streamed ? "stream" : "whole"}`;
  const wrong = (detail: string): Violation[] => [
    { property: "usage_as_reported", detail: `${where}: ${detail}; recorded ${recorded}` },
  ];
  switch (expected.kind) {
    case "reported": {
      const same =
        completion.usage_source === "reported" &&
        USAGE_COLUMNS.every((column) => completion[column] === expected.usage[column]);
      return same ? [] : wrong(`the vendor reported ${JSON.stringify(expected.usage)}`);
    }
    case "rejected":
      return completion.usage_source === "estimated" && rejectedWarning
        ? []
        : wrong(
            "the vendor's usage was outside the contract: expected estimated with usage_rejected",
          );
    case "none":
      return completion.usage_source === "estimated" && !rejectedWarning
        ? []
        : wrong("the vendor sent no usage: expected estimated, no usage_rejected");
    default:
      return [];
  }
}

/**
 * A translated answer tells the client the usage the ledger holds: a whole
 * answer's `usage`; a stream that ended well, its last usage frame (OpenAI's
 * usage chunk when the client asked for it, Anthropic's message_delta).
 */
function clientToldTheLedger(
  exchanged: GatewayExchange,
  completion: RequestCompleted,
  body: unknown,
  applied: (what: string) => void,
): Violation[] {
  const { call } = exchanged;
  const last = exchanged.served.at(-1);
  if (!last || last.protocol === "embeddings") return [];
  if (last.protocol === call.api) return []; // pass-through: the vendor's answer as received
  let usage: Record<string, unknown> | undefined;
  if (!call.streamed) usage = (body as { usage?: Record<string, unknown> } | undefined)?.usage;
  else if (completion.status === "success" && call.clientWantsUsage) {
    usage = lastStreamedUsage(call.api, exchanged.response.body);
  } else return [];
  applied(call.streamed ? "told_usage_checked_stream" : "told_usage_checked_whole");
  if (!usage) {
    return [{ property: "client_told_the_ledger", detail: "a translated answer without usage" }];
  }
  const told =
    call.api === "openai"
      ? { input: usage.prompt_tokens, output: usage.completion_tokens }
      : {
          input:
            Number(usage.input_tokens) +
            Number(usage.cache_read_input_tokens ?? 0) +
            Number(usage.cache_creation_input_tokens ?? 0),
          output: usage.output_tokens,
        };
  if (told.input === completion.input_tokens && told.output === completion.output_tokens) return [];
  return [
    {
      property: "client_told_the_ledger",
      detail: `${call.streamed ? "stream" : "whole"}: told ${JSON.stringify(usage)}, recorded input ${completion.input_tokens} output ${completion.output_tokens}`,
    },
  ];
}

/** The usage of a stream's last frame that carries one (OpenAI's usage chunk, Anthropic's message_delta). */
function lastStreamedUsage(
  api: "openai" | "anthropic",
  text: string,
): Record<string, unknown> | undefined {
  let usage: Record<string, unknown> | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("data:")) continue;
    let frame: { type?: unknown; usage?: unknown };
    try {
      frame = JSON.parse(line.slice("data:".length));
    } catch {
      continue;
    }
    if (typeof frame?.usage !== "object" || frame.usage === null) continue;
    if (api === "anthropic" && frame.type !== "message_delta") continue;
    usage = frame.usage as Record<string, unknown>;
  }
  return usage;
}
