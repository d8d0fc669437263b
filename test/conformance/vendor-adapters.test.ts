// One suite for every vendor adapter, run on recorded payloads: the vendors' own
// (test/reference/: Anthropic's SDK fixtures and recorded exchanges, the Firebase SDKs'
// recorded Gemini answers) and ours (test/fixtures/<vendor>/, real shapes checked against
// the vendor's spec). For each adapter it checks the outgoing request, the translated
// answer whole and streamed (text, tool calls, usage), and the error mapping, then writes
// every translated answer in both inbound APIs and validates it against that API's spec.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { gatewayConfig, type VendorConfig } from "../../gateway/config.ts";
import {
  anthropicMessagesApi,
  fromAnthropicRequest,
  toAnthropicMessage,
} from "../../gateway/inbound/anthropic-messages.ts";
import {
  chatCompletionRequest,
  fromOpenAIChatRequest,
  openAIChatApi,
  toOpenAIChatCompletion,
} from "../../gateway/inbound/openai-chat.ts";
import { type NeutralStreamEvent, NO_USAGE, type NormalizedUsage } from "../../gateway/neutral.ts";
import type { StreamDecoder, VendorAdapter } from "../../gateway/vendors/adapter.ts";
import { OPENAI_COMPATIBLE_PRESETS } from "../../gateway/vendors/openai-compatible-presets.ts";
import { createVendorAdapter } from "../../gateway/vendors/registry.ts";
import { validateAnthropic } from "../fixtures/anthropic-spec.ts";
import { usage } from "../fixtures/normalized-usage.ts";
import { validateOpenAI } from "../fixtures/openai-spec.ts";
import { referenceJson, referenceText } from "../fixtures/reference.ts";

// ── Recorded payloads ───────────────────────────────────────────────────────────────────

const FIXTURES = new URL("../fixtures/", import.meta.url);
function fixtureText(path: string): string {
  return readFileSync(new URL(path, FIXTURES), "utf8");
}
function fixtureJson<T = unknown>(path: string): T {
  return JSON.parse(fixtureText(path)) as T;
}

/** A `*.chunks.txt` fixture (one data payload per line) as the SSE body its vendor sends. */
function sseFromChunks(path: string, protocol: "openai" | "anthropic" | "gemini"): string {
  const lines = fixtureText(path).split("\n").filter(Boolean);
  const frames = lines.map((line) => {
    if (protocol === "anthropic")
      return `event: ${(JSON.parse(line) as { type: string }).type}\ndata: ${line}\n\n`;
    return `data: ${line}\n\n`;
  });
  return frames.join("") + (protocol === "openai" ? "data: [DONE]\n\n" : "");
}

interface RecordedExchange {
  request: { body: Record<string, unknown> };
  response: { status_code: number; headers: Record<string, string>; body: unknown };
}

/** Feeds a body in awkward slices (7 bytes), as a network would, and collects the events. */
function decodeAll(decoder: StreamDecoder, body: string, sliceSize = 7): NeutralStreamEvent[] {
  const events: NeutralStreamEvent[] = [];
  for (let start = 0; start < body.length; start += sliceSize) {
    events.push(...decoder.push(body.slice(start, start + sliceSize)));
  }
  events.push(...decoder.end());
  return events;
}

function summarize(events: NeutralStreamEvent[]) {
  let text = "";
  const toolCalls: { id: string; name: string; argumentsJson: string }[] = [];
  let usage: NormalizedUsage | null = null;
  let finishReason: string | null = null;
  const errors: string[] = [];
  for (const event of events) {
    if (event.type === "text_delta") text += event.text;
    else if (event.type === "tool_call_start")
      toolCalls[event.index] = { id: event.id, name: event.name, argumentsJson: "" };
    else if (event.type === "tool_call_delta") {
      const call = toolCalls[event.index];
      if (call) call.argumentsJson += event.argumentsJson;
    } else if (event.type === "usage") usage = event.usage;
    else if (event.type === "finish") finishReason = event.finishReason;
    else if (event.type === "error") errors.push(event.vendorType ?? event.message);
  }
  return { text, toolCalls, usage, finishReason, errors };
}

// ── The adapters, configured as an operator would ─────────────────────────────────────────

function adapterFor(vendor: Record<string, unknown>): VendorAdapter {
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "k", tenant: "t", sha256: "0".repeat(64) }],
    vendors: [{ id: "v", api_key: "sk-test", ...vendor }],
    routes: [],
  });
  return createVendorAdapter(config.vendors[0] as VendorConfig);
}

const anthropic = adapterFor({ protocol: "anthropic" });
const gemini = adapterFor({ protocol: "gemini" });
const openai = adapterFor({ protocol: "openai" });
const azure = adapterFor({
  protocol: "azure-openai",
  base_url: "https://example.openai.azure.com",
  api_version: "2024-10-21",
});

// The OpenAI-protocol equivalent of the first request Anthropic's SDK recorded in
// anthropic-sdk-python/recorded/tool_use_stream_two_turns.json, and of its second turn.
const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Lookup the weather for a given city in either celsius or fahrenheit",
    parameters: {
      additionalProperties: false,
      properties: {
        location: {
          description: "The city and state, e.g. San Francisco, CA",
          title: "Location",
          type: "string",
        },
        units: {
          description: "Unit for the output, either 'c' for celsius or 'f' for fahrenheit",
          enum: ["c", "f"],
          title: "Units",
          type: "string",
        },
      },
      required: ["location", "units"],
      type: "object",
    },
  },
};
const firstTurn = chatCompletionRequest.parse({
  model: "claude-haiku-4-5",
  max_tokens: 1024,
  stream: true,
  messages: [{ role: "user", content: "What is the weather in SF?" }],
  tools: [weatherTool],
});
const secondTurn = chatCompletionRequest.parse({
  ...firstTurn,
  messages: [
    { role: "user", content: "What is the weather in SF?" },
    {
      role: "assistant",
      content: null,
      tool_calls: [
        {
          id: "toolu_018acGYLtfR52q9yDbWaEdQZ",
          type: "function",
          function: {
            name: "get_weather",
            arguments: '{"location": "San Francisco, CA", "units": "f"}',
          },
        },
      ],
    },
    {
      role: "tool",
      tool_call_id: "toolu_018acGYLtfR52q9yDbWaEdQZ",
      content:
        '{"location": "San Francisco, CA", "temperature": "68\\u00b0F", "condition": "Sunny"}',
    },
  ],
});

function withoutCaller(body: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(body), (key, value) => (key === "caller" ? undefined : value));
}

// ── Outgoing requests ───────────────────────────────────────────────────────────────────

describe("outgoing requests", () => {
  it("anthropic: an OpenAI client's tool conversation becomes the request Anthropic's own SDK sent", () => {
    const recorded = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/tool_use_stream_two_turns.json",
    );
    for (const [index, turn] of [firstTurn, secondTurn].entries()) {
      const { request } = fromOpenAIChatRequest(turn);
      const upstream = anthropic.toChatRequest(request, "claude-haiku-4-5");
      expect(upstream).toMatchObject({ method: "POST", path: "/messages", warnings: [] });
      expect(upstream.headers).toMatchObject({
        "x-api-key": "sk-test",
        "anthropic-version": "2023-06-01",
      });
      const body = JSON.parse(upstream.body);
      expect(body).toEqual(withoutCaller(recorded[index]?.request.body as Record<string, unknown>));
      expect(validateAnthropic("CreateMessageParams", body)).toEqual([]);
    }
  });

  it("anthropic: the recorded Anthropic request passes through untouched but for the model", () => {
    const recorded = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/messages_stream_429_429_200.json",
    );
    const clientBody = recorded[0]?.request.body as Record<string, unknown>;
    const upstream = anthropic.passThrough?.toChatRequest(
      clientBody,
      "claude-sonnet-4-5-20250929",
      {
        "anthropic-beta": "structured-outputs-2025-11-13",
      },
    );
    expect(JSON.parse(upstream?.body ?? "{}")).toEqual({
      ...clientBody,
      model: "claude-sonnet-4-5-20250929",
    });
    expect(upstream?.headers["anthropic-beta"]).toBe("structured-outputs-2025-11-13");
  });

  it("anthropic: a translated Anthropic request keeps cache_control, system blocks and tool choice", () => {
    const { request, warnings } = fromAnthropicRequest(
      anthropicMessagesApi.parse({
        model: "claude-haiku-4-5",
        max_tokens: 300,
        system: [
          {
            type: "text",
            text: "You are a contracts analyst.",
            cache_control: { type: "ephemeral" },
          },
        ],
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Renewal date?", cache_control: { type: "ephemeral" } },
            ],
          },
        ],
        tools: [
          {
            name: "lookup",
            input_schema: { type: "object" },
            cache_control: { type: "ephemeral" },
          },
        ],
        tool_choice: { type: "any", disable_parallel_tool_use: true },
        thinking: { type: "enabled", budget_tokens: 1024 },
      }).body as never,
    );
    expect(warnings).toEqual([]);
    const body = JSON.parse(anthropic.toChatRequest(request, "claude-haiku-4-5").body);
    expect(body).toEqual({
      model: "claude-haiku-4-5",
      max_tokens: 300,
      system: [
        {
          type: "text",
          text: "You are a contracts analyst.",
          cache_control: { type: "ephemeral" },
        },
      ],
      messages: [
        {
          role: "user",
          content: [{ type: "text", text: "Renewal date?", cache_control: { type: "ephemeral" } }],
        },
      ],
      tools: [
        { name: "lookup", input_schema: { type: "object" }, cache_control: { type: "ephemeral" } },
      ],
      tool_choice: { type: "any", disable_parallel_tool_use: true },
      thinking: { type: "enabled", budget_tokens: 1024 },
    });
    expect(validateAnthropic("CreateMessageParams", body)).toEqual([]);
  });

  it("openai: the client's body passes through with the routed model and usage always asked for", () => {
    const clientBody = { ...firstTurn, max_completion_tokens: 50, max_tokens: undefined, seed: 7 };
    const upstream = openai.passThrough?.toChatRequest(clientBody, "gpt-4o-mini");
    expect(upstream).toMatchObject({ path: "/chat/completions", warnings: [] });
    expect(upstream?.headers.authorization).toBe("Bearer sk-test");
    const body = JSON.parse(upstream?.body ?? "{}");
    expect(body).toMatchObject({
      model: "gpt-4o-mini",
      seed: 7,
      max_completion_tokens: 50,
      stream_options: { include_usage: true },
    });
    expect(validateOpenAI("CreateChatCompletionRequest", body)).toEqual([]);
  });

  it("openai: an Anthropic client's request becomes a valid OpenAI request", () => {
    const recorded = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/tool_use_stream_two_turns.json",
    );
    const { request } = fromAnthropicRequest(
      anthropicMessagesApi.parse(recorded[1]?.request.body).body as never,
    );
    const body = JSON.parse(openai.toChatRequest(request, "gpt-4o-mini").body);
    expect(body.messages).toEqual([
      { role: "user", content: "What is the weather in SF?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "toolu_018acGYLtfR52q9yDbWaEdQZ",
            type: "function",
            function: {
              name: "get_weather",
              arguments: '{"location":"San Francisco, CA","units":"f"}',
            },
          },
        ],
      },
      {
        role: "tool",
        tool_call_id: "toolu_018acGYLtfR52q9yDbWaEdQZ",
        content:
          '{"location": "San Francisco, CA", "temperature": "68\\u00b0F", "condition": "Sunny"}',
      },
    ]);
    expect(body).toMatchObject({
      max_completion_tokens: 1024,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(validateOpenAI("CreateChatCompletionRequest", body)).toEqual([]);
  });

  it("azure-openai: the deployment URL, api-version and api-key header", () => {
    const upstream = azure.passThrough?.toChatRequest({ ...firstTurn }, "weather-deployment");
    expect(upstream?.path).toBe(
      "/openai/deployments/weather-deployment/chat/completions?api-version=2024-10-21",
    );
    expect(upstream?.headers).toMatchObject({ "api-key": "sk-test" });
    expect(upstream?.headers.authorization).toBeUndefined();
    expect(azure.embeddings?.toRequest({ input: "x" }, "embedder").path).toBe(
      "/openai/deployments/embedder/embeddings?api-version=2024-10-21",
    );
    const streamed = JSON.parse(
      azure.passThrough?.toChatRequest({ ...firstTurn }, "d").body ?? "{}",
    );
    expect(streamed.stream_options).toEqual({ include_usage: true });
    // Before 2024-09-01 Azure refuses stream_options; its streams then carry no usage.
    const older = adapterFor({
      protocol: "azure-openai",
      base_url: "https://example.openai.azure.com",
      api_version: "2024-06-01",
    });
    expect(
      JSON.parse(older.passThrough?.toChatRequest({ ...firstTurn }, "d").body ?? "{}")
        .stream_options,
    ).toBeUndefined();
  });

  it.each(Object.keys(OPENAI_COMPATIBLE_PRESETS))(
    "%s: declared differences applied, each drop a warning",
    (protocol) => {
      const dialect = OPENAI_COMPATIBLE_PRESETS[protocol as keyof typeof OPENAI_COMPATIBLE_PRESETS];
      const adapter = adapterFor({
        protocol,
        ...(dialect.defaultBaseUrl === null ? { base_url: "http://127.0.0.1:8000/v1" } : {}),
      });
      const clientBody = {
        ...firstTurn,
        max_tokens: undefined,
        max_completion_tokens: 64,
        metadata: { team: "a" },
        user: "u-1",
      };
      const upstream = adapter.passThrough?.toChatRequest(clientBody, "some-model");
      const body = JSON.parse(upstream?.body ?? "{}");
      for (const parameter of dialect.unsupportedParameters) {
        expect(body[parameter]).toBeUndefined();
        if (parameter in clientBody) {
          expect(upstream?.warnings).toContain(
            `${protocol} does not support '${parameter}'; it was not sent`,
          );
        }
      }
      if (dialect.maxTokensField === "max_tokens") expect(body).toMatchObject({ max_tokens: 64 });
      else expect(body).toMatchObject({ max_completion_tokens: 64 });
      if (dialect.streamUsage === "stream_options")
        expect(body.stream_options).toEqual({ include_usage: true });
      else expect(body.stream_options).toBeUndefined();
      expect(Boolean(adapter.embeddings)).toBe(dialect.embeddings);
    },
  );

  it("gemini: contents, function declarations, function responses by name, and the SSE method", () => {
    const { request } = fromOpenAIChatRequest({ ...secondTurn, temperature: 0.2, stop: ["END"] });
    const upstream = gemini.toChatRequest(request, "gemini-2.5-flash");
    expect(upstream.path).toBe("/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    expect(upstream.headers).toMatchObject({ "x-goog-api-key": "sk-test" });
    expect(JSON.parse(upstream.body)).toEqual({
      contents: [
        { role: "user", parts: [{ text: "What is the weather in SF?" }] },
        {
          role: "model",
          parts: [
            {
              functionCall: {
                name: "get_weather",
                args: { location: "San Francisco, CA", units: "f" },
              },
            },
          ],
        },
        {
          role: "user",
          parts: [
            {
              functionResponse: {
                name: "get_weather",
                response: {
                  location: "San Francisco, CA",
                  temperature: "68°F",
                  condition: "Sunny",
                },
              },
            },
          ],
        },
      ],
      tools: [
        {
          functionDeclarations: [
            {
              name: "get_weather",
              description: weatherTool.function.description,
              parametersJsonSchema: weatherTool.function.parameters,
            },
          ],
        },
      ],
      generationConfig: { maxOutputTokens: 1024, temperature: 0.2, stopSequences: ["END"] },
    });
    const whole = gemini.toChatRequest({ ...request, stream: false }, "gemini-2.5-flash");
    expect(whole.path).toBe("/models/gemini-2.5-flash:generateContent");
  });

  it("a parameter a vendor cannot honour is a warning, never a silent drop", () => {
    const { request } = fromOpenAIChatRequest(
      chatCompletionRequest.parse({
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        temperature: 1.5,
        response_format: { type: "json_object" },
        metadata: { team: "a" },
        seed: 42,
      }),
    );
    expect(anthropic.toChatRequest(request, "claude").warnings).toEqual([
      "Anthropic requires max_tokens; 4096 was sent (the vendor's configured default)",
      "Anthropic's temperature is at most 1; 1.5 was sent as 1",
      "Anthropic has no plain JSON mode (only a JSON schema); response_format json_object was not sent",
      "Anthropic does not take OpenAI's 'metadata'; it was not sent",
      "'seed' is not part of Anthropic's Messages API; it was not sent",
    ]);
    expect(gemini.toChatRequest(request, "gemini").warnings).toEqual([
      "Gemini does not take OpenAI's 'metadata'; it was not sent",
      "'seed' is not part of Gemini's API; it was not sent",
    ]);
  });
});

// ── Answers, whole ──────────────────────────────────────────────────────────────────────

describe("whole answers, usage normalised exactly", () => {
  it("anthropic: the recorded message; input_tokens exclude cache reads and writes", () => {
    const recorded = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/messages_nonstream_200.json",
    );
    const answer = anthropic.fromChatResponse(recorded[0]?.response.body);
    expect(answer.parts).toEqual([{ type: "text", text: expect.stringContaining('"Green Tea"') }]);
    expect(answer.usage).toEqual(usage(406, 0, 0, 50, 0));
    const cached = anthropic.fromChatResponse(fixtureJson("anthropic/message-with-cache.json"));
    expect(cached.usage).toEqual(usage(21 + 9870 + 1204, 9870, 1204, 12, 0));
  });

  it("anthropic: the recorded tool use", () => {
    const recorded = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/tool_use_200_then_400.json",
    );
    const answer = anthropic.fromChatResponse(recorded[0]?.response.body);
    expect(answer).toMatchObject({
      finishReason: "tool_calls",
      parts: [
        {
          type: "tool_call",
          id: "toolu_01GHndag5wQmbzNihYmV2UBj",
          name: "get_weather",
          argumentsJson: '{"location":"San Francisco, CA","units":"c"}',
        },
      ],
      usage: usage(659, 0, 0, 74, 0),
    });
  });

  it("gemini: promptTokenCount includes the cached tokens; thoughts are output apart from candidates", () => {
    const cached = gemini.fromChatResponse(
      referenceJson(
        "vertexai-sdk-test-data/mock-responses/vertexai/unary-success-implicit-caching.json",
      ),
    );
    expect(cached.usage).toEqual(usage(12013, 11243, 0, 15 + 73, 73));
    const thinking = gemini.fromChatResponse(
      referenceJson(
        "vertexai-sdk-test-data/mock-responses/googleai/unary-success-thinking-reply-thought-summary.json",
      ),
    );
    expect(thinking.usage).toEqual(usage(14, 0, 0, 2 + 24, 24));
    expect(thinking.parts.map((part) => part.type)).toEqual(["reasoning", "text"]);
  });

  it("gemini: parallel function calls become tool calls with ids", () => {
    const answer = gemini.fromChatResponse(
      referenceJson(
        "vertexai-sdk-test-data/mock-responses/vertexai/unary-success-function-call-parallel-calls.json",
      ),
    );
    expect(answer.finishReason).toBe("tool_calls");
    expect(answer.parts).toEqual([
      { type: "tool_call", id: "call_gemini_0", name: "sum", argumentsJson: '{"y":1,"x":2}' },
      { type: "tool_call", id: "call_gemini_1", name: "sum", argumentsJson: '{"y":3,"x":4}' },
      { type: "tool_call", id: "call_gemini_2", name: "sum", argumentsJson: '{"y":5,"x":6}' },
    ]);
  });

  it("gemini: a prompt blocked for safety finishes as content_filter", () => {
    const answer = gemini.fromChatResponse(
      referenceJson(
        "vertexai-sdk-test-data/mock-responses/vertexai/unary-failure-prompt-blocked-safety.json",
      ),
    );
    expect(answer.finishReason).toBe("content_filter");
  });

  it("openai: prompt_tokens include cached ones; reasoning is part of completion_tokens", () => {
    const body = fixtureJson("openai/chat-tool-call.json");
    expect(validateOpenAI("CreateChatCompletionResponse", body)).toEqual([]);
    const answer = openai.fromChatResponse(body);
    expect(answer.usage).toEqual(usage(1180, 1024, 0, 215, 192));
    expect(answer.parts).toEqual([
      {
        type: "tool_call",
        id: "call_Xk3pWeather",
        name: "get_weather",
        argumentsJson: '{"location":"San Francisco, CA","units":"c"}',
      },
    ]);
    expect(answer.finishReason).toBe("tool_calls");
  });

  it("deepseek: cache hits counted once", () => {
    const deepseek = adapterFor({ protocol: "deepseek" });
    expect(deepseek.fromChatResponse(fixtureJson("openai/deepseek-cache-hit.json")).usage).toEqual(
      usage(1500, 1408, 0, 2, 0),
    );
    expect(
      deepseek.fromUsage({ prompt_tokens: 10, completion_tokens: 1, prompt_cache_hit_tokens: 6 }),
    ).toEqual({ kind: "reported", usage: usage(10, 6, 0, 1, 0) });
  });
});

// ── Answers, streamed ───────────────────────────────────────────────────────────────────

describe("streamed answers", () => {
  it.each([
    ["sse/basic_response.txt", "Hello there!", [], usage(11, 0, 0, 6, 0), "stop"],
    [
      "sse/tool_use_response.txt",
      "I'll check the current weather in Paris for you.",
      [
        {
          id: "toolu_01NRLabsLyVHZPKxbKvkfSMn",
          name: "get_weather",
          argumentsJson: '{"location": "Paris"}',
        },
      ],
      usage(377, 0, 0, 65, 0),
      "tool_calls",
    ],
    ["sse/refusal_response.txt", "", [], null, "refusal"],
  ] as const)("anthropic %s", (path, text, toolCalls, expectedUsage, finishReason) => {
    const summary = summarize(
      decodeAll(anthropic.createStreamDecoder(), referenceText(`anthropic-sdk-python/${path}`)),
    );
    expect(summary.text).toBe(text);
    expect(summary.toolCalls).toEqual(toolCalls);
    if (expectedUsage) expect(summary.usage).toEqual(expectedUsage);
    expect(summary.finishReason).toBe(finishReason);
  });

  it("anthropic: the recorded padded stream; message_delta's repeated input counts replace, never add", () => {
    const recorded = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/tool_use_stream_two_turns.json",
    );
    const first = summarize(
      decodeAll(anthropic.createStreamDecoder(), recorded[0]?.response.body as string),
    );
    expect(first.toolCalls).toEqual([
      {
        id: "toolu_018acGYLtfR52q9yDbWaEdQZ",
        name: "get_weather",
        argumentsJson: '{"location": "San Francisco, CA", "units": "f"}',
      },
    ]);
    expect(first.usage).toEqual(usage(656, 0, 0, 74, 0));
    const retried = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/messages_stream_429_429_200.json",
    );
    const answer = summarize(
      decodeAll(anthropic.createStreamDecoder(), retried[2]?.response.body as string, 13),
    );
    expect(answer.text).toBe("[12345,67890]");
    expect(answer.usage).toEqual(usage(135, 0, 0, 10, 0));
  });

  it("anthropic: an error event mid-stream", () => {
    const summary = summarize(
      decodeAll(
        anthropic.createStreamDecoder(),
        sseFromChunks("anthropic/overloaded-mid-stream.chunks.txt", "anthropic"),
      ),
    );
    expect(summary).toMatchObject({ text: "Once upon", errors: ["overloaded_error"] });
  });

  it("gemini: running usageMetadata, the last chunk's wins", () => {
    const basic = summarize(
      decodeAll(
        gemini.createStreamDecoder(),
        referenceText(
          "vertexai-sdk-test-data/mock-responses/googleai/streaming-success-basic-reply-short.txt",
        ),
      ),
    );
    expect(basic).toMatchObject({
      text: "The capital of Wyoming is **Cheyenne**.\n",
      finishReason: "stop",
    });
    expect(basic.usage).toEqual(usage(7, 0, 0, 10, 0));
    const thinking = decodeAll(
      gemini.createStreamDecoder(),
      referenceText(
        "vertexai-sdk-test-data/mock-responses/googleai/streaming-success-thinking-reply-thought-summary.txt",
      ),
    );
    const last = summarize(thinking).usage;
    expect(last?.reasoningTokens).toBeGreaterThan(0);
    expect(last?.outputTokens).toBe(
      (last?.reasoningTokens ?? 0) +
        22 +
        (last ? last.outputTokens - last.reasoningTokens - 22 : 0),
    );
  });

  it("gemini: a function call streamed whole, and an error mid-stream", () => {
    const call = summarize(
      decodeAll(
        gemini.createStreamDecoder(),
        referenceText(
          "vertexai-sdk-test-data/mock-responses/vertexai/streaming-success-function-call-short.txt",
        ),
      ),
    );
    expect(call.toolCalls).toEqual([
      { id: "call_gemini_0", name: "getTemperature", argumentsJson: '{"city":"San Jose"}' },
    ]);
    expect(call.finishReason).toBe("tool_calls");
    const broken = summarize(
      decodeAll(
        gemini.createStreamDecoder(),
        referenceText(
          "vertexai-sdk-test-data/mock-responses/vertexai/streaming-failure-error-mid-stream.txt",
        ),
      ),
    );
    expect(broken).toMatchObject({ text: "First Second ", errors: ["CANCELLED"] });
  });

  it("openai: text, tool-call deltas and the usage-only chunk", () => {
    const text = summarize(
      decodeAll(
        openai.createStreamDecoder(),
        sseFromChunks("openai/chat-text.chunks.txt", "openai"),
      ),
    );
    expect(text).toMatchObject({
      text: "Hello there!",
      finishReason: "stop",
      usage: usage(19, 0, 0, 3, 0),
    });
    const tools = summarize(
      decodeAll(
        openai.createStreamDecoder(),
        sseFromChunks("openai/chat-tool-call.chunks.txt", "openai"),
      ),
    );
    expect(tools.toolCalls).toEqual([
      { id: "call_Zq9Weather", name: "get_weather", argumentsJson: '{"location":"Paris"}' },
    ]);
    expect(tools.usage).toEqual(usage(84, 64, 0, 17, 0));
    for (const line of fixtureText("openai/chat-tool-call.chunks.txt")
      .split("\n")
      .filter(Boolean)) {
      expect(validateOpenAI("CreateChatCompletionStreamResponse", JSON.parse(line))).toEqual([]);
    }
    const frames = fixtureText("openai/chat-text.chunks.txt")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(frames.map((frame) => openai.passThrough?.isGatewayOnlyFrame?.(frame, false))).toEqual([
      false,
      false,
      false,
      false,
      true,
    ]);
    expect(frames.map((frame) => openai.passThrough?.isGatewayOnlyFrame?.(frame, true))).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it("mistral: usage riding on the last content chunk", () => {
    const mistral = adapterFor({ protocol: "mistral" });
    const summary = summarize(
      decodeAll(
        mistral.createStreamDecoder(),
        sseFromChunks("openai/mistral-usage-on-last-chunk.chunks.txt", "openai"),
      ),
    );
    expect(summary).toMatchObject({
      text: "Bonjour.",
      usage: usage(9, 0, 0, 3, 0),
      finishReason: "stop",
    });
  });
});

// ── Errors ──────────────────────────────────────────────────────────────────────────────

describe("vendor errors mapped to stable codes", () => {
  it("anthropic: the recorded 429 and 400, and an overloaded 529", () => {
    const limited = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/messages_stream_429_429_200.json",
    )[0];
    expect(
      anthropic.mapError(429, JSON.stringify(limited?.response.body), { "retry-after": "7" }),
    ).toMatchObject({
      code: "upstream_rate_limited",
      retryable: true,
      errorClass: "rate_limited",
      retryAfterSeconds: 7,
    });
    const invalid = referenceJson<RecordedExchange[]>(
      "anthropic-sdk-python/recorded/tool_use_200_then_400.json",
    )[1];
    expect(anthropic.mapError(400, JSON.stringify(invalid?.response.body), {})).toMatchObject({
      code: "upstream_invalid_request",
      retryable: false,
      message: expect.stringContaining("unexpected `tool_use_id`"),
    });
    expect(
      anthropic.mapError(
        529,
        '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
        {},
      ),
    ).toMatchObject({ code: "upstream_overloaded", retryable: true });
  });

  it("gemini: Google's RPC envelopes", () => {
    expect(
      gemini.mapError(
        400,
        referenceText("vertexai-sdk-test-data/mock-responses/googleai/unary-failure-api-key.json"),
        {},
      ),
    ).toMatchObject({ code: "upstream_auth_failed", retryable: true });
    expect(
      gemini.mapError(
        429,
        referenceText(
          "vertexai-sdk-test-data/mock-responses/vertexai/unary-failure-quota-exceeded.json",
        ),
        {},
      ),
    ).toMatchObject({ code: "upstream_rate_limited", retryable: true });
    expect(
      gemini.mapError(
        404,
        referenceText(
          "vertexai-sdk-test-data/mock-responses/googleai/unary-failure-unknown-model.json",
        ),
        {},
      ),
    ).toMatchObject({ code: "model_not_found", retryable: false });
  });

  it("openai: rate limit, context length, and a body that is not JSON", () => {
    expect(openai.mapError(429, fixtureText("openai/error-rate-limit.json"), {})).toMatchObject({
      code: "upstream_rate_limited",
      retryable: true,
    });
    expect(openai.mapError(400, fixtureText("openai/error-context-length.json"), {})).toMatchObject(
      {
        code: "upstream_invalid_request",
        param: "messages",
        message: expect.stringContaining("context_length_exceeded"),
      },
    );
    expect(openai.mapError(502, "<html>Bad Gateway</html>", {})).toMatchObject({
      code: "upstream_server_error",
      retryable: true,
    });
  });
});

// ── Every translated answer, in both inbound APIs, against their specs ─────────────────────

describe("translated answers validate against the client's spec", () => {
  const wholeAnswers: [string, VendorAdapter, unknown][] = [
    [
      "anthropic text",
      anthropic,
      referenceJson<RecordedExchange[]>(
        "anthropic-sdk-python/recorded/messages_nonstream_200.json",
      )[0]?.response.body,
    ],
    [
      "anthropic tool use",
      anthropic,
      referenceJson<RecordedExchange[]>(
        "anthropic-sdk-python/recorded/tool_use_200_then_400.json",
      )[0]?.response.body,
    ],
    [
      "gemini function calls",
      gemini,
      referenceJson(
        "vertexai-sdk-test-data/mock-responses/vertexai/unary-success-function-call-parallel-calls.json",
      ),
    ],
    [
      "gemini thinking",
      gemini,
      referenceJson(
        "vertexai-sdk-test-data/mock-responses/googleai/unary-success-thinking-reply-thought-summary.json",
      ),
    ],
    ["openai tool call", openai, fixtureJson("openai/chat-tool-call.json")],
  ];

  it.each(wholeAnswers)("%s", (_name, adapter, body) => {
    const answer = adapter.fromChatResponse(body);
    const settled = answer.usage ?? NO_USAGE;
    const asOpenAI = toOpenAIChatCompletion(answer, settled, "req_1");
    expect(validateOpenAI("CreateChatCompletionResponse", asOpenAI)).toEqual([]);
    expect(asOpenAI.usage.prompt_tokens).toBe(settled.inputTokens);
    const asAnthropic = toAnthropicMessage(answer, settled, "req_1");
    expect(validateAnthropic("Message", asAnthropic)).toEqual([]);
    // Anthropic's input_tokens exclude cache reads and writes; added back they are the whole prompt.
    expect(
      asAnthropic.usage.input_tokens +
        asAnthropic.usage.cache_read_input_tokens +
        asAnthropic.usage.cache_creation_input_tokens,
    ).toBe(settled.inputTokens);
  });

  const streams: [string, VendorAdapter, string][] = [
    [
      "anthropic tool use",
      anthropic,
      referenceText("anthropic-sdk-python/sse/tool_use_response.txt"),
    ],
    [
      "gemini text",
      gemini,
      referenceText(
        "vertexai-sdk-test-data/mock-responses/googleai/streaming-success-basic-reply-short.txt",
      ),
    ],
    [
      "gemini function call",
      gemini,
      referenceText(
        "vertexai-sdk-test-data/mock-responses/vertexai/streaming-success-function-call-short.txt",
      ),
    ],
    ["openai tool call", openai, sseFromChunks("openai/chat-tool-call.chunks.txt", "openai")],
  ];

  it.each(streams)("%s, streamed", (_name, adapter, body) => {
    const events = decodeAll(adapter.createStreamDecoder(), body);
    const final = summarize(events).usage;

    const openAIWriter = openAIChatApi.createStreamWriter({
      requestId: "req_1",
      clientWantsUsage: true,
    });
    const openAIStream =
      events.map((event) => openAIWriter.write(event)).join("") + openAIWriter.end(final);
    const chunks = openAIStream.split("\n\n").filter(Boolean);
    expect(chunks.at(-1)).toBe("data: [DONE]");
    for (const chunk of chunks.slice(0, -1)) {
      expect(
        validateOpenAI("CreateChatCompletionStreamResponse", JSON.parse(chunk.slice(6))),
      ).toEqual([]);
    }

    const anthropicWriter = anthropicMessagesApi.createStreamWriter({
      requestId: "req_1",
      clientWantsUsage: true,
    });
    const anthropicStream =
      events.map((event) => anthropicWriter.write(event)).join("") + anthropicWriter.end(final);
    const frames = anthropicStream
      .split("\n\n")
      .filter(Boolean)
      .map((frame) => {
        const [eventLine, dataLine] = frame.split("\n");
        return { event: eventLine?.slice(7), data: JSON.parse(dataLine?.slice(6) ?? "{}") };
      });
    expect(frames[0]?.event).toBe("message_start");
    expect(frames[1]?.event).toBe("ping");
    expect(frames.at(-2)?.event).toBe("message_delta");
    expect(frames.at(-1)?.event).toBe("message_stop");
    for (const frame of frames) {
      expect(frame.data.type).toBe(frame.event);
      if (frame.event !== "ping")
        expect(validateAnthropic("MessageStreamEvent", frame.data)).toEqual([]);
    }
    // What the Anthropic SDK adds up from message_delta equals the vendor's usage.
    const delta = frames.at(-2)?.data.usage;
    if (final) {
      expect(
        delta.input_tokens + delta.cache_read_input_tokens + delta.cache_creation_input_tokens,
      ).toBe(final.inputTokens);
      expect(delta.output_tokens).toBe(final.outputTokens);
    }
  });
});
