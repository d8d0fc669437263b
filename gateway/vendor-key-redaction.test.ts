// The gateway's own vendor keys never reach a client, a log line or an event,
// even from a vendor that echoes the Authorization header it was sent: in a
// 401, 400 or 500 error body, past the 500 characters a failure message is
// cut at, in a mid-stream error frame (split between two writes), and in a
// successful answer. Both inbound APIs, against an OpenAI-protocol and an
// Anthropic-protocol vendor (pass-through and translated).
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redactingLogger } from "../eventlog/logger.ts";
import { REDACTED } from "../eventlog/secret-redactor.ts";
import { deadLetterFor } from "../ingest/dead-letters.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { buildGateway } from "./app.ts";
import { sha256Hex } from "./auth.ts";
import { gatewayConfig } from "./config.ts";
import { PriceCatalog } from "./pricing.ts";
import { vendorSecretRedactor } from "./vendor-secrets.ts";

const CLIENT_KEY = "sk-client-of-the-gateway";
const OPENAI_SECRET = "sk-proj-OPENAIvendorSECRET0123456789abcdefXYZ";
const ANTHROPIC_SECRET = "sk-ant-api03-ANTHROPICvendorSECRET9876543210zyxw";
const SECRETS = [OPENAI_SECRET, ANTHROPIC_SECRET];

/** How the fake vendor misbehaves, chosen by the model asked for. */
const KINDS = ["status-401", "status-400", "status-500", "long-500", "stream-error", "echo-200"];
const VENDORS = ["oa", "an"];

let vendor: Server;
let gateway: FastifyInstance;
const sink = new RecordingSink();
const logLines: string[] = [];

/** The credential header the vendor received, as a vendor echoing it would quote it. */
function credentialOf(request: IncomingMessage): string {
  return String(request.headers.authorization ?? `x-api-key: ${request.headers["x-api-key"]}`);
}

function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let text = "";
    request.on("data", (chunk) => (text += chunk));
    request.on("end", () => resolve(JSON.parse(text || "{}")));
  });
}

/** A vendor speaking OpenAI's chat API on /v1/chat/completions and Anthropic's on /v1/messages. */
function startEchoingVendor(): Promise<Server> {
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    const anthropic = request.url?.endsWith("/messages") === true;
    const kind = String(body.model);
    const echoed = credentialOf(request);
    const errorBody = (message: string) =>
      JSON.stringify(
        anthropic
          ? { type: "error", error: { type: "invalid_request_error", message } }
          : { error: { message, type: "invalid_request_error", param: null, code: null } },
      );
    const status = /^(?:status|long)-(\d+)$/.exec(kind)?.[1];
    if (status) {
      // long-500: the key starts 480 characters in, so the 500-character cut of a
      // failure message falls inside it.
      const filler = kind.startsWith("long") ? `${"x".repeat(434)} ` : "";
      response.writeHead(Number(status), {
        "content-type": "application/json",
        "x-echoed-credential": echoed,
      });
      response.end(errorBody(`${filler}Incorrect API key provided. You sent: ${echoed}`));
      return;
    }
    if (kind === "stream-error") {
      response.writeHead(200, { "content-type": "text/event-stream" });
      const errorFrame = anthropic
        ? `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message: `upstream rejected ${echoed}` } })}\n\n`
        : `data: ${JSON.stringify({ error: { message: `upstream rejected ${echoed}`, type: "server_error" } })}\n\n`;
      response.write(
        anthropic
          ? `event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: kind, content: [], usage: { input_tokens: 5, output_tokens: 0 } } })}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n`
          : `data: ${JSON.stringify({ id: "c1", object: "chat.completion.chunk", created: 1, model: kind, choices: [{ index: 0, delta: { role: "assistant", content: "Hello" }, finish_reason: null }] })}\n\n`,
      );
      // The error frame in two writes, split inside the key.
      const split = errorFrame.indexOf(echoed) + Math.floor(echoed.length / 2);
      setTimeout(() => response.write(errorFrame.slice(0, split)), 5);
      setTimeout(() => response.end(errorFrame.slice(split)), 15);
      return;
    }
    // echo-200: a successful answer quoting the key in its text and its model name.
    response.writeHead(200, { "content-type": "application/json" });
    const text = `Your key is ${echoed}`;
    response.end(
      JSON.stringify(
        anthropic
          ? {
              id: "msg_1",
              type: "message",
              role: "assistant",
              model: `model for ${echoed}`,
              content: [{ type: "text", text }],
              stop_reason: "end_turn",
              usage: { input_tokens: 5, output_tokens: 7 },
            }
          : {
              id: "c1",
              object: "chat.completion",
              created: 1,
              model: `model for ${echoed}`,
              choices: [
                { index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" },
              ],
              usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
            },
      ),
    );
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  vendor = await startEchoingVendor();
  const base = `http://127.0.0.1:${(vendor.address() as AddressInfo).port}/v1`;
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "unit", tenant: "acme", sha256: sha256Hex(CLIENT_KEY) }],
    vendors: [
      { id: "oa", protocol: "openai", base_url: base, api_key: OPENAI_SECRET },
      { id: "an", protocol: "anthropic", base_url: base, api_key: ANTHROPIC_SECRET },
    ],
    routes: VENDORS.flatMap((vendorId) =>
      KINDS.map((kind) => ({
        model: `${vendorId}-${kind}`,
        fallback: [{ vendor: vendorId, model: kind }],
      })),
    ),
  });
  const prices = new PriceCatalog({
    version: "unit-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: VENDORS.flatMap((vendorId) =>
      KINDS.map((model) => ({ vendor: vendorId, model, input: "1", output: "2" })),
    ),
  });
  // The logger the CLI builds: the process's redactor, from the same vendor keys.
  const capture = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const logger = redactingLogger(
    { level: "trace" },
    vendorSecretRedactor(config.vendors).redactor,
    capture,
  );
  gateway = buildGateway({ config, prices, sink, logger });
});

afterAll(async () => {
  await gateway.close();
  await new Promise((resolve) => vendor.close(resolve));
});

/** No secret, whole or as any 16-character piece (what truncation could leave), in `text`. */
function expectNoSecretIn(text: string, where: string): void {
  for (const secret of SECRETS) {
    for (let start = 0; start + 16 <= secret.length; start += 1) {
      expect(text, `${where}: piece of a vendor key at ${start}`).not.toContain(
        secret.slice(start, start + 16),
      );
    }
  }
}

function call(inbound: "openai" | "anthropic", model: string, stream: boolean) {
  const question = { role: "user", content: "Say hello." };
  return gateway.inject({
    method: "POST",
    url: inbound === "openai" ? "/v1/chat/completions" : "/v1/messages",
    headers: {
      "content-type": "application/json",
      ...(inbound === "openai"
        ? { authorization: `Bearer ${CLIENT_KEY}` }
        : { "x-api-key": CLIENT_KEY, "anthropic-version": "2023-06-01" }),
    },
    payload: JSON.stringify(
      inbound === "openai"
        ? { model, messages: [question], stream }
        : { model, max_tokens: 50, messages: [question], stream },
    ),
  });
}

describe("a vendor echoing the gateway's key", () => {
  for (const inbound of ["openai", "anthropic"] as const) {
    for (const vendorId of VENDORS) {
      for (const kind of KINDS) {
        const stream = kind === "stream-error";
        it(`${inbound} client, ${vendorId} vendor, ${kind}: the key reaches the client nowhere`, async () => {
          const response = await call(inbound, `${vendorId}-${kind}`, stream);
          const seen = `${JSON.stringify(response.headers)}\n${response.body}`;
          expectNoSecretIn(seen, "the client's answer");
          if (kind.startsWith("status-400")) {
            expect(response.statusCode).toBe(400);
          }
          if (kind === "status-401" || kind.endsWith("500")) {
            expect(response.statusCode).toBeGreaterThanOrEqual(500);
          }
          if (kind === "echo-200" || kind.startsWith("status")) {
            // The vendor's text still comes through, with the key cut out.
            expect(response.body).toContain(REDACTED);
          }
          if (stream) {
            expect(response.statusCode).toBe(200);
            expect(response.body).toContain("Hello");
            expect(response.body).toContain(REDACTED);
          }
        });
      }
    }
  }

  it("nor any log line or event", () => {
    expect(sink.appended.length).toBeGreaterThan(0);
    expectNoSecretIn(sink.appended.map((record) => record.value).join("\n"), "the events");
    expectNoSecretIn(logLines.join(""), "the logs");
    // The successful echoes were recorded, their model name redacted.
    const models = sink.events
      .filter((event) => event.event_type === "request_completed")
      .map((event) => (event as { response_model: string | null }).response_model);
    expect(models).toContain(`model for Bearer ${REDACTED}`);
  });

  it("nor a dead letter made of a record that carried one", () => {
    const { redactor } = vendorSecretRedactor(
      gatewayConfig.parse({
        price_catalog: "-",
        api_keys: [{ id: "unit", tenant: "acme", sha256: sha256Hex(CLIENT_KEY) }],
        vendors: [
          {
            id: "oa",
            protocol: "openai",
            base_url: "http://127.0.0.1:1/v1",
            api_key: OPENAI_SECRET,
          },
        ],
      }).vendors,
    );
    const letter = deadLetterFor(
      {
        topic: "switchboard.request_completed",
        partition: 0,
        offset: "7",
        key: "req_1",
        value: Buffer.from(`{"response_model":"Bearer ${OPENAI_SECRET}"`),
      },
      `Unexpected end of JSON input near "Bearer ${OPENAI_SECRET}"`,
      "2026-11-20T00:00:00.000Z",
      redactor,
    );
    expectNoSecretIn(JSON.stringify(letter), "the dead letter");
    expect(letter.payload).toBe(`{"response_model":"Bearer ${REDACTED}"`);
  });
});
