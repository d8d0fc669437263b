// Traces through the whole gateway, as an OTLP/HTTP receiver gets them: a
// small HTTP server in the test decodes what the exporter POSTs to
// /v1/traces (OTLP JSON). A client sends a traceparent; the first candidate
// answers 503 and the second answers, so one request span has two attempt
// spans. Checked: the spans, their GenAI attributes, parent and child, the
// routing decision event, the traceparent each vendor got, and that no
// prompt or answer text is anywhere in what was exported.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RecordingSink } from "../../test/fixtures/recording-sink.ts";
import {
  askSmart,
  DOWN_THEN_UP_PRICES,
  downThenUp,
  type ScriptedVendor,
  startScriptedVendor,
  VENDOR_ANSWER,
  VENDOR_USAGE,
} from "../../test/fixtures/scripted-openai-vendor.ts";
import { buildGateway } from "../app.ts";
import { sha256Hex } from "../auth.ts";
import { gatewayConfig } from "../config.ts";
import type { TracingSettings } from "./tracing-settings.ts";

const KEY = "sk-tracing-test";
const PROMPT = "A prompt the traces must never carry: violet-kangaroo-4411.";
const CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN_ID = "00f067aa0ba902b7";
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

interface OtlpAttribute {
  key: string;
  value: {
    stringValue?: string;
    intValue?: string | number;
    boolValue?: boolean;
    doubleValue?: number;
    arrayValue?: { values: OtlpAttribute["value"][] };
  };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
  events?: { name: string; attributes: OtlpAttribute[] }[];
  status?: { code?: number };
}
const SERVER = 2;
const CLIENT = 3;
const STATUS_ERROR = 2;

/** An OTLP/HTTP receiver: every JSON body POSTed to /v1/traces, and the spans in them. */
class OtlpReceiver {
  readonly bodies: string[] = [];
  readonly contentTypes: string[] = [];
  private server!: Server;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => {
        text += chunk;
      });
      request.on("end", () => {
        if (request.method === "POST" && request.url === "/v1/traces") {
          this.bodies.push(text);
          this.contentTypes.push(request.headers["content-type"] ?? "");
        }
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  spans(): OtlpSpan[] {
    return this.bodies.flatMap((body) =>
      (
        JSON.parse(body) as {
          resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
        }
      ).resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans)),
    );
  }

  resourceAttributes(): OtlpAttribute[] {
    const first = JSON.parse(this.bodies[0] ?? "{}") as {
      resourceSpans?: { resource: { attributes: OtlpAttribute[] } }[];
    };
    return first.resourceSpans?.[0]?.resource.attributes ?? [];
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function attributesOf(attributes: OtlpAttribute[]): Record<string, unknown> {
  const plain = (value: OtlpAttribute["value"]): unknown =>
    value.arrayValue
      ? value.arrayValue.values.map(plain)
      : (value.stringValue ??
        (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
        value.boolValue ??
        value.doubleValue);
  return Object.fromEntries(attributes.map((attribute) => [attribute.key, plain(attribute.value)]));
}

let vendor: ScriptedVendor;
let receiver: OtlpReceiver | undefined;
let gateway: FastifyInstance | null = null;

beforeAll(async () => {
  vendor = await startScriptedVendor();
});
afterAll(() => vendor.close());
afterEach(async () => {
  await gateway?.close();
  gateway = null;
  await receiver?.close();
  receiver = undefined;
  vendor.received.length = 0;
});

async function startGateway(tracing: TracingSettings | null): Promise<string> {
  const config = gatewayConfig.parse({
    ...downThenUp(vendor),
    api_keys: [{ id: "tracing", tenant: "acme", sha256: sha256Hex(KEY) }],
    routing: { retry: { max_retries_per_candidate: 0 } },
  });
  gateway = buildGateway({
    config,
    prices: DOWN_THEN_UP_PRICES,
    sink: new RecordingSink(),
    logger: pino({ level: "silent" }),
    tracing,
  });
  return gateway.listen({ host: "127.0.0.1", port: 0 });
}

function ask(url: string, stream: boolean, headers: Record<string, string> = {}) {
  return askSmart(url, { key: KEY, prompt: PROMPT, stream, headers });
}

async function tracedGateway(protocol: TracingSettings["protocol"] = "http/json") {
  const otlp = new OtlpReceiver();
  receiver = otlp;
  const receiverUrl = await otlp.start();
  const url = await startGateway({
    url: receiverUrl,
    protocol,
    sampler: "parentbased_always_on",
    samplerRatio: 1,
    resource: { "service.name": "switchboard-test" },
  });
  return { url, otlp };
}

describe("traces over OTLP/HTTP", () => {
  it.each([false, true])(
    "streamed %s: one request span, one span per attempt, the decision as an event, the client's trace continued to the vendor",
    async (stream) => {
      const { url, otlp } = await tracedGateway();
      const answer = await ask(url, stream, {
        traceparent: `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`,
        tracestate: "client=1",
      });
      expect(answer.status).toBe(200);
      expect(answer.text).toContain(VENDOR_ANSWER);
      // Closing the gateway shuts the tracer down, which sends what is batched.
      await gateway?.close();
      gateway = null;

      const spans = otlp.spans();
      expect(otlp.contentTypes.every((type) => type.startsWith("application/json"))).toBe(true);
      expect(attributesOf(otlp.resourceAttributes())["service.name"]).toBe("switchboard-test");
      const [request, ...others] = spans.filter((span) => span.kind === SERVER);
      expect(others).toEqual([]);
      if (!request) throw new Error("no request span");
      expect(request.traceId).toBe(CLIENT_TRACE_ID);
      expect(request.parentSpanId).toBe(CLIENT_SPAN_ID);
      expect(request.name).toBe("chat smart");
      expect(attributesOf(request.attributes)).toMatchObject({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "smart",
        "gen_ai.request.stream": stream,
        "gen_ai.response.model": "m-up-2026",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": VENDOR_USAGE.prompt_tokens,
        "gen_ai.usage.output_tokens": VENDOR_USAGE.completion_tokens,
        "switchboard.request_id": answer.requestId,
        "switchboard.task": "general",
        "switchboard.vendor": "up",
        "switchboard.attempts": 2,
        "http.route": "/v1/chat/completions",
        "http.response.status_code": 200,
      });
      const decision = request.events?.find((event) => event.name === "switchboard.route_decided");
      expect(attributesOf(decision?.attributes ?? [])).toMatchObject({
        "switchboard.policy": "fallback",
        "switchboard.chosen": "down/m-down",
        "switchboard.candidates": ["down/m-down", "up/m-up"],
      });

      const attempts = spans.filter((span) => span.kind === CLIENT);
      expect(attempts.map((span) => span.name)).toEqual(["chat m-down", "chat m-up"]);
      for (const attempt of attempts) {
        expect(attempt.traceId).toBe(CLIENT_TRACE_ID);
        expect(attempt.parentSpanId).toBe(request.spanId);
      }
      const [failed, answered] = attempts.map((span) => attributesOf(span.attributes));
      expect(failed).toMatchObject({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m-down",
        "switchboard.vendor": "down",
        "switchboard.attempt": 1,
        "switchboard.request_id": answer.requestId,
        "switchboard.outcome": "server_error",
        "server.address": "127.0.0.1",
        "error.type": "upstream_overloaded",
      });
      expect(attempts[0]?.status?.code).toBe(STATUS_ERROR);
      expect(answered).toMatchObject({
        "gen_ai.request.model": "m-up",
        "gen_ai.response.model": "m-up-2026",
        "gen_ai.usage.input_tokens": VENDOR_USAGE.prompt_tokens,
        "gen_ai.usage.output_tokens": VENDOR_USAGE.completion_tokens,
        "switchboard.attempt": 2,
        "switchboard.outcome": "success",
      });
      expect(answered?.["error.type"]).toBeUndefined();
      if (stream) expect(answered?.["gen_ai.response.time_to_first_chunk"]).toBeTypeOf("number");

      // Each vendor got the trace, with its own attempt's span as the parent.
      expect(vendor.received).toHaveLength(2);
      vendor.received.forEach((each, index) => {
        const [, traceId, parentId] = TRACEPARENT.exec(String(each.headers.traceparent)) ?? [];
        expect(traceId).toBe(CLIENT_TRACE_ID);
        expect(parentId).toBe(attempts[index]?.spanId);
        expect(each.headers.tracestate).toBe("client=1");
      });

      // No content: neither the prompt nor the answer, nor any content attribute.
      const exported = otlp.bodies.join("\n");
      expect(exported).not.toContain("violet-kangaroo");
      expect(exported).not.toContain(VENDOR_ANSWER);
      expect(exported).not.toMatch(/gen_ai\.(input|output)\.messages|system_instructions/);
      expect(exported).not.toContain(KEY);
    },
  );

  it("starts a trace of its own when the client sends none, and traces a refused key", async () => {
    const { url, otlp } = await tracedGateway();
    const answer = await ask(url, false);
    expect(answer.status).toBe(200);
    const refused = await ask(url, false, { authorization: "Bearer sk-wrong" });
    expect(refused.status).toBe(401);
    await gateway?.close();
    gateway = null;
    const requests = otlp.spans().filter((span) => span.kind === SERVER);
    expect(requests).toHaveLength(2);
    for (const span of requests) {
      expect(span.parentSpanId ?? "").toBe("");
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.traceId).not.toBe(CLIENT_TRACE_ID);
    }
    const refusedSpan = requests.find(
      (span) => attributesOf(span.attributes)["http.response.status_code"] === 401,
    );
    expect(attributesOf(refusedSpan?.attributes ?? [])).toMatchObject({
      "error.type": "invalid_api_key",
      "switchboard.request_id": refused.requestId,
    });
    // The vendor's traceparent names the gateway's attempt, in the gateway's own trace.
    const [, traceId] = TRACEPARENT.exec(String(vendor.received.at(-1)?.headers.traceparent)) ?? [];
    expect(requests.map((span) => span.traceId)).toContain(traceId);
  });

  it("ends the request's span with its completion when the client leaves mid-stream", async () => {
    const { url, otlp } = await tracedGateway();
    const leaving = new AbortController();
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: "slow",
        stream: true,
        messages: [{ role: "user", content: PROMPT }],
      }),
      signal: leaving.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read(); // the first chunk: the stream has begun
    leaving.abort();
    await expect.poll(() => vendor.received.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await gateway?.close();
    gateway = null;
    const [request] = otlp.spans().filter((span) => span.kind === SERVER);
    expect(attributesOf(request?.attributes ?? [])).toMatchObject({
      "error.type": "client_closed",
      "switchboard.vendor": "slow",
      "http.response.status_code": 200,
    });
    // The client's leaving is no failure of the gateway's.
    expect(request?.status?.code ?? 0).not.toBe(STATUS_ERROR);
    const attempts = otlp.spans().filter((span) => span.kind === CLIENT);
    expect(attempts.map((span) => attributesOf(span.attributes)["switchboard.outcome"])).toEqual([
      "client_closed",
    ]);
  });

  it("sends OTLP protobuf by default (http/protobuf)", async () => {
    const { url, otlp } = await tracedGateway("http/protobuf");
    expect((await ask(url, false)).status).toBe(200);
    await gateway?.close();
    gateway = null;
    expect(otlp.contentTypes.length).toBeGreaterThan(0);
    expect(otlp.contentTypes.every((type) => type === "application/x-protobuf")).toBe(true);
  });
});

describe("tracing off", () => {
  it("passes a client's valid traceparent on to the vendor as it came, and no malformed one", async () => {
    const url = await startGateway(null);
    const traceparent = `00-${CLIENT_TRACE_ID}-${CLIENT_SPAN_ID}-01`;
    expect((await ask(url, false, { traceparent, tracestate: "client=1" })).status).toBe(200);
    expect(vendor.received.map((each) => each.headers.traceparent)).toEqual([
      traceparent,
      traceparent,
    ]);
    expect(vendor.received[1]?.headers.tracestate).toBe("client=1");
    vendor.received.length = 0;
    expect((await ask(url, false, { traceparent: "00-not-a-trace-01" })).status).toBe(200);
    expect(vendor.received.map((each) => each.headers.traceparent)).toEqual([undefined, undefined]);
    // And none of its own without one.
    vendor.received.length = 0;
    expect((await ask(url, false)).status).toBe(200);
    expect(vendor.received.every((each) => each.headers.traceparent === undefined)).toBe(true);
  });
});
