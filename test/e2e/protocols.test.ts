// The gateway driven by the official clients, each routed to an upstream of a different
// protocol through the simulator: the `openai` client (chat, streaming, tools, embeddings)
// to Anthropic, Gemini and Azure upstreams; the `@anthropic-ai/sdk` client (messages,
// streaming, tools) to OpenAI and Gemini upstreams. Every answer parses in its client, with
// the usage the upstream reported; every request the clients send and every answer the
// gateway writes validates against the OpenAI or the Anthropic spec.
import Anthropic from "@anthropic-ai/sdk";
import type { FastifyInstance } from "fastify";
import OpenAI from "openai";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RequestCompleted } from "../../events/schemas.ts";
import { buildGateway } from "../../gateway/app.ts";
import { sha256Hex } from "../../gateway/auth.ts";
import { gatewayConfig } from "../../gateway/config.ts";
import { PriceCatalog } from "../../gateway/pricing.ts";
import { type RunningSimulator, startSimulator } from "../../simulator/index.ts";
import { validateAnthropic } from "../fixtures/anthropic-spec.ts";
import { validateOpenAI } from "../fixtures/openai-spec.ts";
import { RecordingSink } from "../fixtures/recording-sink.ts";

const KEY = "sk-protocols";
const sink = new RecordingSink();
let simulator: RunningSimulator;
let gateway: FastifyInstance;
let gatewayUrl: string;

/** What crossed the wire between a client and the gateway, for validation against the specs. */
interface Exchange {
  path: string;
  requestBody: unknown;
  status: number;
  contentType: string;
  responseText: string;
}
const exchanges: Exchange[] = [];

/** A fetch for the clients that keeps a copy of every exchange. */
const recordingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const url = new URL(
    typeof input === "string" ? input : input instanceof URL ? input.href : input.url,
  );
  const requestBody = typeof init?.body === "string" ? JSON.parse(init.body) : undefined;
  const copy = response.clone();
  const exchange: Exchange = {
    path: url.pathname,
    requestBody,
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    responseText: "",
  };
  exchanges.push(exchange);
  // Read beside the client, so a stream is not held back.
  void copy.text().then((text) => {
    exchange.responseText = text;
  });
  return response;
};

beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "sim-model" }, { id: "sim-embed" }, { id: "sim-broken" }],
    faultsByModel: { "sim-broken": { serverError: 1 } },
  });
  const config = gatewayConfig.parse({
    port: 0,
    price_catalog: "-",
    api_keys: [{ id: "e2e", tenant: "acme", sha256: sha256Hex(KEY) }],
    vendors: [
      { id: "oa", protocol: "openai", base_url: `${simulator.url}/v1`, api_key: "k" },
      { id: "claude", protocol: "anthropic", base_url: `${simulator.url}/v1`, api_key: "k" },
      { id: "gem", protocol: "gemini", base_url: `${simulator.url}/v1beta`, api_key: "k" },
      {
        id: "az",
        protocol: "azure-openai",
        base_url: simulator.url,
        api_key: "k",
        api_version: "2024-10-21",
      },
    ],
    routes: [
      { model: "to-anthropic", fallback: [{ vendor: "claude", model: "sim-model" }] },
      { model: "to-gemini", fallback: [{ vendor: "gem", model: "sim-model" }] },
      { model: "to-openai", fallback: [{ vendor: "oa", model: "sim-model" }] },
      {
        model: "failover",
        fallback: [
          { vendor: "claude", model: "sim-broken" },
          { vendor: "gem", model: "sim-model" },
        ],
      },
      {
        model: "embed",
        fallback: [
          { vendor: "claude", model: "sim-embed" },
          { vendor: "az", model: "sim-embed" },
        ],
      },
    ],
  });
  const price = (vendor: string, model: string) => ({ vendor, model, input: "1", output: "2" });
  const prices = new PriceCatalog({
    version: "protocols-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      price("claude", "sim-model"),
      price("claude", "sim-broken"),
      price("claude", "sim-embed"),
      price("gem", "sim-model"),
      price("oa", "sim-model"),
      price("az", "sim-embed"),
    ],
  });
  gateway = buildGateway({ config, prices, sink, logger: pino({ level: "silent" }) });
  gatewayUrl = await gateway.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await simulator?.close();
});
beforeEach(() => {
  sink.appended.length = 0;
});

const openai = () =>
  new OpenAI({ apiKey: KEY, baseURL: `${gatewayUrl}/v1`, maxRetries: 0, fetch: recordingFetch });
const anthropic = () =>
  new Anthropic({ apiKey: KEY, baseURL: gatewayUrl, maxRetries: 0, fetch: recordingFetch });

/** The usage the simulator reported for its last answer. */
function upstreamUsage() {
  const usage = simulator.answered().at(-1)?.usage;
  if (!usage) throw new Error("the simulator answered nothing");
  return usage;
}

function completedEvent(): RequestCompleted {
  const event = sink.events.find((each) => each.event_type === "request_completed");
  if (!event) throw new Error("no request_completed event");
  return event as RequestCompleted;
}

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, units: { type: "string", enum: ["c", "f"] } },
      required: ["city", "units"],
    },
  },
};

describe("the openai client, to other protocols", () => {
  it("chat to Anthropic: parses, usage as reported, routing headers and cost", async () => {
    const { data, response } = await openai()
      .chat.completions.create({
        model: "to-anthropic",
        messages: [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Name three rivers." },
        ],
        max_completion_tokens: 50,
      })
      .withResponse();
    const usage = upstreamUsage();
    expect(data.usage).toMatchObject({
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
    });
    expect(data.choices[0]?.message.content).toEqual(expect.any(String));
    expect(response.headers.get("x-switchboard-vendor")).toBe("claude");
    expect(response.headers.get("x-switchboard-model")).toBe("sim-model");
    expect(response.headers.get("x-switchboard-attempts")).toBe("1");
    expect(response.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(response.headers.get("x-switchboard-cost-usd")).toBe(completedEvent().cost_usd);
    expect(completedEvent()).toMatchObject({
      vendor: "claude",
      input_tokens: usage.promptTokens,
      output_tokens: usage.completionTokens,
      usage_source: "reported",
    });
  });

  it("streaming to Gemini with include_usage: one usage chunk, as reported", async () => {
    const stream = await openai().chat.completions.create({
      model: "to-gemini",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "Write a haiku about invoices." }],
    });
    let text = "";
    const usages = [];
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) usages.push(chunk.usage);
    }
    const usage = upstreamUsage();
    expect(text.split(" ")).toHaveLength(usage.completionTokens);
    expect(usages).toEqual([
      expect.objectContaining({
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
      }),
    ]);
  });

  it("tools to Anthropic, whole and streamed, then the tool's result answered in text", async () => {
    const client = openai();
    const ask = {
      model: "to-anthropic",
      messages: [{ role: "user" as const, content: "Weather in Paris?" }],
      tools: [weatherTool],
    };
    const whole = await client.chat.completions.create(ask);
    const call = whole.choices[0]?.message.tool_calls?.[0];
    expect(whole.choices[0]?.finish_reason).toBe("tool_calls");
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({
      city: "the",
      units: "c",
    });

    const stream = await client.chat.completions.create({ ...ask, stream: true });
    let argumentsJson = "";
    let name = "";
    let finish = "";
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? []) {
        name ||= delta.function?.name ?? "";
        argumentsJson += delta.function?.arguments ?? "";
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ name, args: JSON.parse(argumentsJson), finish }).toEqual({
      name: "get_weather",
      args: { city: "the", units: "c" },
      finish: "tool_calls",
    });

    if (call?.type !== "function") throw new Error("no function call");
    const after = await client.chat.completions.create({
      ...ask,
      messages: [
        ...ask.messages,
        { role: "assistant", content: null, tool_calls: [call] },
        { role: "tool", tool_call_id: call.id, content: "Sunny, 21 C" },
      ],
    });
    expect(after.choices[0]?.finish_reason).toBe("stop");
    expect(after.usage?.prompt_tokens).toBe(upstreamUsage().promptTokens);
  });

  it("tools to Gemini, streamed", async () => {
    const stream = await openai().chat.completions.create({
      model: "to-gemini",
      stream: true,
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [weatherTool],
      tool_choice: { type: "function", function: { name: "get_weather" } },
    });
    let argumentsJson = "";
    for await (const chunk of stream) {
      for (const delta of chunk.choices[0]?.delta.tool_calls ?? [])
        argumentsJson += delta.function?.arguments ?? "";
    }
    expect(JSON.parse(argumentsJson)).toEqual({ city: "the", units: "c" });
  });

  it("embeddings to Azure, the Anthropic candidate skipped and said so", async () => {
    const { data, response } = await openai()
      .embeddings.create({ model: "embed", input: ["invoice total", "renewal date"] })
      .withResponse();
    expect(data.data).toHaveLength(2);
    const usage = upstreamUsage();
    expect(data.usage.prompt_tokens).toBe(usage.promptTokens);
    expect(response.headers.get("x-switchboard-vendor")).toBe("az");
    const decided = sink.events.find((event) => event.event_type === "route_decided");
    expect(decided).toMatchObject({
      chosen_vendor: "az",
      // Tried ones first, then the skipped (route_decided v2's ranks).
      candidates: [
        { vendor: "az", skipped_reason: null },
        { vendor: "claude", skipped_reason: "protocol anthropic has no embeddings API" },
      ],
    });
  });

  it("fails over from a broken Anthropic upstream to Gemini", async () => {
    const { data, response } = await openai()
      .chat.completions.create({ model: "failover", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(response.headers.get("x-switchboard-attempts")).toBe("2");
    expect(response.headers.get("x-switchboard-vendor")).toBe("gem");
    expect(data.usage?.completion_tokens).toBe(upstreamUsage().completionTokens);
  });

  it("a parameter the upstream cannot honour comes back as a warning header", async () => {
    const { response } = await openai()
      .chat.completions.create({
        model: "to-anthropic",
        messages: [{ role: "user", content: "hi" }],
        seed: 7,
      })
      .withResponse();
    expect(JSON.parse(response.headers.get("x-switchboard-warnings") ?? "[]")).toContain(
      "'seed' is not part of Anthropic's Messages API; it was not sent",
    );
  });
});

describe("the @anthropic-ai/sdk client, to other protocols", () => {
  const tools = [
    {
      name: "get_weather",
      description: "The weather in a city",
      input_schema: {
        type: "object" as const,
        properties: { city: { type: "string" } },
        required: ["city"],
      },
    },
  ];

  it("messages to OpenAI: parses, usage as reported", async () => {
    const { data, response } = await anthropic()
      .messages.create({
        model: "to-openai",
        max_tokens: 64,
        system: "Be brief.",
        messages: [{ role: "user", content: "Name three rivers." }],
      })
      .withResponse();
    const usage = upstreamUsage();
    expect(data.usage).toMatchObject({
      input_tokens: usage.promptTokens,
      output_tokens: usage.completionTokens,
    });
    expect(data.content[0]?.type).toBe("text");
    expect(response.headers.get("x-switchboard-vendor")).toBe("oa");
    expect(response.headers.get("x-switchboard-cost-usd")).toBe(completedEvent().cost_usd);
  });

  it("streaming to Gemini: the SDK's final message carries the reported usage", async () => {
    const stream = anthropic().messages.stream({
      model: "to-gemini",
      max_tokens: 64,
      messages: [{ role: "user", content: "Write a haiku about invoices." }],
    });
    const final = await stream.finalMessage();
    const usage = upstreamUsage();
    expect(final.usage).toMatchObject({
      input_tokens: usage.promptTokens,
      output_tokens: usage.completionTokens,
    });
    expect(final.stop_reason).toBe("end_turn");
  });

  it("tools to OpenAI, streamed and whole, and a tool result answered in text", async () => {
    const client = anthropic();
    const ask = {
      model: "to-openai",
      max_tokens: 100,
      tools,
      messages: [{ role: "user" as const, content: "Weather in Paris?" }],
    };
    const streamed = await client.messages.stream(ask).finalMessage();
    expect(streamed.stop_reason).toBe("tool_use");
    const call = streamed.content.find((block) => block.type === "tool_use");
    expect(call).toMatchObject({ name: "get_weather", input: { city: "the" } });
    const whole = await client.messages.create(ask);
    expect(whole.content[0]).toMatchObject({ type: "tool_use", input: { city: "the" } });
    if (call?.type !== "tool_use") throw new Error("no tool use");
    const after = await client.messages.create({
      ...ask,
      messages: [
        ...ask.messages,
        { role: "assistant", content: [call] },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: call.id, content: "Sunny" }],
        },
      ],
    });
    expect(after.stop_reason).toBe("end_turn");
    expect(after.usage.input_tokens).toBe(upstreamUsage().promptTokens);
  });

  it("errors in Anthropic's shape: unknown model, bad request, wrong key", async () => {
    await expect(
      anthropic().messages.create({
        model: "nope",
        max_tokens: 5,
        messages: [{ role: "user", content: "x" }],
      }),
    ).rejects.toMatchObject({
      status: 404,
      error: { type: "error", error: { type: "not_found_error" } },
    });
    const missingMaxTokens = await fetch(`${gatewayUrl}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": KEY, "content-type": "application/json" },
      body: JSON.stringify({ model: "to-openai", messages: [{ role: "user", content: "x" }] }),
    });
    expect(missingMaxTokens.status).toBe(400);
    const body = await missingMaxTokens.json();
    expect(validateAnthropic("ErrorResponse", body)).toEqual([]);
    expect(body.error.message).toMatch(/^invalid_request \(max_tokens\)/);
    const stranger = new Anthropic({ apiKey: "sk-wrong", baseURL: gatewayUrl, maxRetries: 0 });
    await expect(
      stranger.messages.create({
        model: "to-openai",
        max_tokens: 5,
        messages: [{ role: "user", content: "x" }],
      }),
    ).rejects.toMatchObject({ status: 401 });
  });
});

describe("every shape on the wire", () => {
  it("validates against the OpenAI or the Anthropic spec", async () => {
    // Let the copies of the last streams finish reading.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(exchanges.length).toBeGreaterThan(10);
    for (const exchange of exchanges) {
      const label = `${exchange.path} ${exchange.status}`;
      const anthropicApi = exchange.path === "/v1/messages";
      const requestSchema = anthropicApi
        ? "CreateMessageParams"
        : exchange.path === "/v1/embeddings"
          ? "CreateEmbeddingRequest"
          : "CreateChatCompletionRequest";
      expect(
        anthropicApi
          ? validateAnthropic(requestSchema, exchange.requestBody)
          : validateOpenAI(requestSchema, exchange.requestBody),
        label,
      ).toEqual([]);
      if (exchange.status >= 400) {
        const body = JSON.parse(exchange.responseText);
        expect(
          anthropicApi
            ? validateAnthropic("ErrorResponse", body)
            : validateOpenAI("ErrorResponse", body),
          label,
        ).toEqual([]);
      } else if (exchange.contentType.startsWith("text/event-stream")) {
        for (const frame of exchange.responseText.split("\n\n").filter(Boolean)) {
          const data =
            frame
              .split("\n")
              .find((line) => line.startsWith("data: "))
              ?.slice(6) ?? "";
          if (data === "[DONE]") continue;
          const parsed = JSON.parse(data);
          if (anthropicApi) {
            if (parsed.type !== "ping")
              expect(validateAnthropic("MessageStreamEvent", parsed), label).toEqual([]);
          } else
            expect(validateOpenAI("CreateChatCompletionStreamResponse", parsed), label).toEqual([]);
        }
      } else {
        const body = JSON.parse(exchange.responseText);
        // The openai client asks for base64 embeddings (and decodes them); the spec's
        // Embedding schema describes only the float form, so compare in that form.
        if (exchange.path === "/v1/embeddings") {
          for (const item of body.data) {
            if (typeof item.embedding === "string") {
              const bytes = Buffer.from(item.embedding, "base64");
              item.embedding = [
                ...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
              ];
            }
          }
        }
        const responseSchema = anthropicApi
          ? "Message"
          : exchange.path === "/v1/embeddings"
            ? "CreateEmbeddingResponse"
            : "CreateChatCompletionResponse";
        expect(
          anthropicApi
            ? validateAnthropic(responseSchema, body)
            : validateOpenAI(responseSchema, body),
          label,
        ).toEqual([]);
      }
    }
  });
});
