// Issue 11, item 3: whatever throws after route_decided, the request has
// exactly one request_completed, and the client gets an answer (a 500 in its
// own shape, or a stream ended) rather than a hung connection. Each step of
// dispatch is made to throw in turn, on every path through it: pass-through
// and translated, whole and streamed, a vendor that fails first.
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { SwitchboardEvent } from "../events/schemas.ts";
import { type RunningSimulator, startSimulator } from "../simulator/index.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { Budgets } from "./budgets.ts";
import { gatewayConfig } from "./config.ts";
import { CostBook } from "./costs.ts";
import { anthropicMessagesApi } from "./inbound/anthropic-messages.ts";
import { openAIChatApi } from "./inbound/openai-chat.ts";
import { PriceCatalog } from "./pricing.ts";
import {
  DuplicateCompletionError,
  GATEWAY_FAILURE_AFTER_ANSWER_WARNING,
  GATEWAY_FAILURE_WARNING,
  RequestLedger,
} from "./request-ledger.ts";
import { Upstream } from "./upstream.ts";

/** The step armed to throw on its next call, and which steps did throw. */
const fault = vi.hoisted(() => ({
  armed: null as string | null,
  thrown: new Set<string>(),
  /** Throws if `step` is armed: once, then disarms. */
  trip(step: string): void {
    if (fault.armed !== step) return;
    fault.armed = null;
    fault.thrown.add(step);
    throw new Error(`forced failure at ${step}`);
  },
  /** `target` with each named method tripping its step before it runs. */
  wrap<T extends object>(target: T, prefix: string, methods: readonly string[]): T {
    const record = target as Record<string, unknown>;
    for (const name of methods) {
      const original = record[name];
      if (typeof original !== "function") continue;
      // A method keeps its `this` (a prototype's instances); a detached function gets `target`.
      record[name] = function (this: unknown, ...parameters: unknown[]) {
        fault.trip(`${prefix}.${name}`);
        return original.apply(this ?? target, parameters);
      };
    }
    return target;
  },
}));

vi.mock("./vendors/registry.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("./vendors/registry.ts")>();
  return {
    ...original,
    createVendorAdapter: (config: Parameters<typeof original.createVendorAdapter>[0]) => {
      const adapter = original.createVendorAdapter(config);
      fault.wrap(adapter, "adapter", [
        "toChatRequest",
        "fromChatResponse",
        "createStreamDecoder",
        "fromUsage",
        "mapError",
      ]);
      if (adapter.passThrough) {
        fault.wrap(adapter.passThrough, "passThrough", ["toChatRequest", "isGatewayOnlyFrame"]);
      }
      return adapter;
    },
  };
});
vi.mock("./answer-heuristics.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("./answer-heuristics.ts")>();
  return fault.wrap({ ...original }, "heuristics", ["heuristicPlanFor", "scoreWholeAnswer"]);
});
vi.mock("./stream-start.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("./stream-start.ts")>();
  return fault.wrap({ ...original }, "streamStart", ["awaitFirstEvent"]);
});
vi.mock("./stream-relay.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("./stream-relay.ts")>();
  return fault.wrap({ ...original }, "relay", [
    "relayOpenAIPassThrough",
    "relayBytes",
    "relayTranslated",
  ]);
});
vi.mock("./usage-estimate.ts", async (importOriginal) => {
  const original = await importOriginal<typeof import("./usage-estimate.ts")>();
  return fault.wrap({ ...original }, "usage", ["estimateUsage"]);
});

const KEY = "sk-unit";
let simulator: RunningSimulator;
let gateway: FastifyInstance;
let buildFreshGateway: () => FastifyInstance;
const sink = new RecordingSink();

beforeAll(async () => {
  // Steps on objects the gateway holds from the start, wrapped the same way.
  fault.wrap(openAIChatApi, "openai", ["toNeutral", "renderResponse", "createStreamWriter"]);
  fault.wrap(anthropicMessagesApi, "anthropic", [
    "toNeutral",
    "renderResponse",
    "createStreamWriter",
  ]);
  fault.wrap(CostBook.prototype, "costs", ["quote"]);
  fault.wrap(Budgets.prototype, "budgets", ["record"]);
  fault.wrap(Upstream.prototype, "upstream", ["send"]);
  fault.wrap(RequestLedger.prototype, "ledger", [
    "attemptStarted",
    "attemptFailed",
    "heuristicScores",
  ]);

  simulator = await startSimulator({
    models: [{ id: "good" }, { id: "broken" }],
    faultsByModel: { broken: { serverError: 1 } },
  });
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "unit", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [
      { id: "oa", protocol: "openai", base_url: `${simulator.url}/v1`, api_key: "k" },
      { id: "claude", protocol: "anthropic", base_url: `${simulator.url}/v1`, api_key: "k" },
      // Sends no usage on streams it was not asked for: the gateway estimates.
      { id: "mistral", protocol: "mistral", base_url: `${simulator.url}/v1`, api_key: "k" },
    ],
    routes: [
      { model: "openai", fallback: [{ vendor: "oa", model: "good" }] },
      { model: "claude", fallback: [{ vendor: "claude", model: "good" }] },
      { model: "mistral", fallback: [{ vendor: "mistral", model: "good" }] },
      {
        model: "failing-first",
        fallback: [
          { vendor: "oa", model: "broken" },
          { vendor: "claude", model: "good" },
        ],
      },
    ],
    budgets: [
      {
        id: "roomy",
        scope: "key",
        scope_id: "unit",
        unit: "tokens",
        period: "day",
        soft_limit: "1000000000",
        hard_limit: "1000000000",
      },
    ],
  });
  const card = (vendor: string, model: string) => ({ vendor, model, input: "1", output: "2" });
  const prices = new PriceCatalog({
    version: "unit-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      card("oa", "good"),
      card("oa", "broken"),
      card("claude", "good"),
      card("mistral", "good"),
    ],
  });
  // One per step: the forced failures would open the circuit breakers of the next.
  buildFreshGateway = () =>
    buildGateway({
      config,
      prices,
      sink,
      logger: pino({ level: "silent" }),
      routing: { random: () => 0, sleep: async () => {} },
    });
});
beforeEach(() => {
  gateway = buildFreshGateway();
});
afterEach(async () => {
  fault.armed = null;
  await gateway.close();
});
afterAll(async () => {
  await simulator.close();
});

interface Path {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

const question = [{ role: "user", content: "Name a river." }];
const tools = [
  {
    type: "function",
    function: { name: "lookup", parameters: { type: "object", properties: {} } },
  },
];
const bearer = { authorization: `Bearer ${KEY}` };
const anthropicHeaders = { "x-api-key": KEY, "anthropic-version": "2023-06-01" };

/** Every way through dispatch: same protocol or translated, whole or streamed, a failover. */
const PATHS: Path[] = [];
for (const stream of [false, true]) {
  const kind = stream ? "streamed" : "whole";
  for (const model of ["openai", "claude", "mistral", "failing-first"]) {
    PATHS.push({
      name: `OpenAI API to ${model}, ${kind}`,
      url: "/v1/chat/completions",
      headers: bearer,
      body: { model, messages: question, tools, stream },
    });
  }
  for (const model of ["claude", "openai"]) {
    PATHS.push({
      name: `Anthropic API to ${model}, ${kind}`,
      url: "/v1/messages",
      headers: anthropicHeaders,
      body: { model, max_tokens: 50, messages: question, stream },
    });
  }
}

/** Every step after route_decided that can throw, by the name its wrapper trips. */
const STEPS = [
  "heuristics.heuristicPlanFor",
  "openai.toNeutral",
  "anthropic.toNeutral",
  "ledger.attemptStarted",
  "adapter.toChatRequest",
  "passThrough.toChatRequest",
  "upstream.send",
  "adapter.mapError",
  "ledger.attemptFailed",
  "streamStart.awaitFirstEvent",
  "adapter.createStreamDecoder",
  "openai.createStreamWriter",
  "anthropic.createStreamWriter",
  "relay.relayOpenAIPassThrough",
  "relay.relayBytes",
  "relay.relayTranslated",
  "passThrough.isGatewayOnlyFrame",
  "adapter.fromChatResponse",
  "adapter.fromUsage",
  "usage.estimateUsage",
  "costs.quote",
  "budgets.record",
  "ledger.heuristicScores",
  "heuristics.scoreWholeAnswer",
  "openai.renderResponse",
  "anthropic.renderResponse",
];

function completionsOf(requestId: string): SwitchboardEvent[] {
  return sink.events.filter(
    (event) => event.event_type === "request_completed" && event.request_id === requestId,
  );
}

describe("exactly one request_completed, whatever throws after route_decided", () => {
  it.each(STEPS)("when %s throws", async (step) => {
    let tripped = 0;
    for (const path of PATHS) {
      fault.thrown.clear();
      fault.armed = step;
      const response = await gateway.inject({
        method: "POST",
        url: path.url,
        headers: { "content-type": "application/json", ...path.headers },
        payload: JSON.stringify(path.body),
      });
      const threw = fault.thrown.has(step);
      fault.armed = null;
      const requestId = response.headers["x-request-id"] ?? response.headers["request-id"];
      expect(typeof requestId, `${path.name}: ${response.body}`).toBe("string");
      const decided = sink.events.filter(
        (event) => event.event_type === "route_decided" && event.request_id === requestId,
      );
      expect(decided, path.name).toHaveLength(1);
      const completions = completionsOf(requestId as string);
      expect(completions, `${path.name}: ${response.statusCode} ${response.body}`).toHaveLength(1);
      if (!threw) {
        expect(response.statusCode, `${path.name}: ${response.body}`).toBe(200);
        continue;
      }
      tripped += 1;
      const completion = completions[0] as {
        status: string;
        http_status: number;
        error_class: string | null;
        warnings: string[];
      };
      if (response.statusCode === 500) {
        // In the client's own error shape, and recorded as the gateway's own failure.
        expect(response.body, path.name).toMatch(/"(internal_error|api_error)"/);
        expect(completion, path.name).toMatchObject({ status: "error", http_status: 500 });
        expect(completion.warnings, path.name).toContain(GATEWAY_FAILURE_WARNING);
      } else {
        // Caught as a failed attempt (failed over, or 502 when none was left), a stream
        // already begun (ended with its error frame), or a throw after the answer was
        // recorded (budgets, scores): the record says the status the client got.
        expect([200, 502], `${path.name}: ${response.body}`).toContain(response.statusCode);
        expect(completion.http_status, path.name).toBe(response.statusCode);
        // A throw inside the relay is a broken stream (error_class set), recorded as before.
        if (completion.status === "error" && completion.error_class === null) {
          expect(completion.warnings, path.name).toContain(GATEWAY_FAILURE_AFTER_ANSWER_WARNING);
        }
      }
    }
    // Each step is on some path; a wrapper that never threw would prove nothing.
    expect(tripped, step).toBeGreaterThan(0);
  });
});

describe("RequestLedger", () => {
  it("refuses a second completion, publishing nothing", async () => {
    const before = sink.appended.length;
    const response = await gateway.inject({
      method: "POST",
      url: "/v1/chat/completions",
      headers: { "content-type": "application/json", ...bearer },
      payload: JSON.stringify({ model: "openai", messages: question }),
    });
    expect(response.statusCode).toBe(200);
    expect(completionsOf(response.headers["x-request-id"] as string)).toHaveLength(1);
    const ledger = new RequestLedger(sink, {
      requestId: "req_twice",
      tenantId: "acme",
      task: "general",
      requestModel: "openai",
      streamed: false,
      caller: {
        tenantId: "acme",
        keyId: "unit",
        team: null,
        tags: [],
        storePromptHash: false,
        budgets: [],
      },
      requestedAt: Date.now(),
      costs: new CostBook(
        new PriceCatalog({ version: "v", currency: "USD", unit: "per_million_tokens", prices: [] }),
      ),
      budgets: null,
      promptSha256: null,
      log: { error: () => {} },
    });
    const outcome = {
      target: null,
      responseModel: null,
      status: "error" as const,
      httpStatus: 502,
      errorClass: "server_error" as const,
      usage: {
        inputTokens: 0,
        cachedInputTokens: 0,
        cacheWriteInputTokens: 0,
        outputTokens: 0,
        reasoningTokens: 0,
      },
      usageSource: "reported" as const,
      ttftMs: null,
    };
    ledger.completed(outcome);
    expect(ledger.isCompleted).toBe(true);
    expect(() => ledger.completed(outcome)).toThrow(DuplicateCompletionError);
    expect(ledger.failedUnexpectedly()).toBe(false);
    expect(completionsOf("req_twice")).toHaveLength(1);
    expect(sink.appended.length - before).toBeGreaterThan(0);
  });
});
