// POST /v1/chat/completions, whole and streamed, against fake OpenAI,
// Anthropic and Gemini vendors (pass-through and translated), with
// OpenRouter's `models` and `provider`, tools, JSON Schemas and any JSON at
// any place of the body.
import fc from "fast-check";
import {
  type Auth,
  auth,
  authHeaders,
  type Body,
  body,
  bodyText,
  bodyValue,
  contentType,
  type Edit,
  jsonSchema,
  promptText,
  reflectedName,
  sometimes,
  toolName,
} from "./client-requests.ts";
import { exchange, type GatewayUnderTest, startGatewayUnderTest } from "./gateway-harness.ts";
import { PROMPT_MARKER } from "./markers.ts";
import type { FuzzTarget } from "./runner.ts";
import { type VendorPlan, vendorPlan } from "./vendor-replies.ts";

export const chatModel = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom("to-openai", "to-anthropic", "to-gemini", "failover") },
  fc.constantFrom("vo/m-openai", "va/m-anthropic", "vg/m-gemini"),
);

/** Model names no route has. */
export const UNKNOWN_MODELS = ["nope", "", "x".repeat(300), "vo/nope"];

export const taskHeader = fc.oneof(
  { weight: 12, arbitrary: fc.constant(null) },
  fc.constantFrom("extraction", "general"),
  fc.constantFrom("Not A Task!", "t".repeat(300)),
);

const openAIContent = fc.oneof(
  { weight: 4, arbitrary: promptText },
  promptText.map((text) => [{ type: "text", text }]),
  promptText.map((text) => [
    { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
    { type: "text", text },
  ]),
);

const openAIMessage = fc.oneof(
  { weight: 6, arbitrary: openAIContent.map((content) => ({ role: "user", content })) },
  promptText.map((content) => ({ role: "system", content })),
  promptText.map((content) => ({ role: "developer", content })),
  fc.record({
    role: fc.constant("assistant"),
    content: fc.oneof(promptText, fc.constant(null)),
    tool_calls: fc.constant([
      {
        id: "call_0",
        type: "function",
        function: { name: "lookup", arguments: `{"q":"${PROMPT_MARKER}"}` },
      },
    ]),
  }),
  promptText.map((content) => ({ role: "tool", content, tool_call_id: "call_0" })),
);

const tool = fc.record({
  type: fc.constant("function"),
  function: fc.record(
    {
      name: toolName,
      description: promptText,
      parameters: jsonSchema,
      strict: fc.boolean(),
    },
    { requiredKeys: ["name"] },
  ),
});

const responseFormat = fc.oneof(
  fc.constant({ type: "text" }),
  fc.constant({ type: "json_object" }),
  fc.record({
    type: fc.constant("json_schema"),
    json_schema: fc.record(
      { name: toolName, schema: jsonSchema, strict: fc.boolean() },
      { requiredKeys: ["name"] },
    ),
  }),
);

const vendorIds = fc.array(fc.constantFrom("vo", "va", "vg", "nobody"), { maxLength: 4 });
const ALL_VENDORS = ["vo", "va", "vg"];

/** OpenRouter's provider preferences, with fields the gateway does not know (warnings). */
export const provider = fc
  .tuple(
    fc.record(
      {
        order: vendorIds,
        only: fc.constantFrom(ALL_VENDORS, ALL_VENDORS, ALL_VENDORS, ["va"], ["nobody"]),
        ignore: fc.constantFrom([], [], [], ["vg"], ALL_VENDORS),
        allow_fallbacks: fc.boolean(),
        sort: fc.constantFrom("price", "latency", "throughput", { by: "price" }),
        max_price: fc.record(
          {
            prompt: fc.constantFrom(0, 100, "25", 1000),
            completion: fc.constantFrom(0, 100, "50"),
          },
          { requiredKeys: [] },
        ),
        data_collection: fc.constantFrom("allow", "allow", "allow", "deny"),
        zdr: fc.constantFrom(false, false, false, true),
      },
      { requiredKeys: [] },
    ),
    fc.array(fc.tuple(reflectedName, fc.jsonValue({ maxDepth: 1 })), { maxLength: 12 }),
  )
  .map(([known, unknown]) => ({ ...Object.fromEntries(unknown), ...known }));

export const chatCompletionBody = fc.record(
  {
    model: chatModel,
    messages: fc.array(openAIMessage, { minLength: 1, maxLength: 4 }),
    stream: fc.boolean(),
    stream_options: fc.record({ include_usage: fc.boolean() }),
    max_tokens: fc.integer({ min: 1, max: 4096 }),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    n: fc.constant(1),
    stop: fc.oneof(fc.constant("\n"), fc.array(fc.constant("END"), { maxLength: 4 })),
    tools: fc.array(tool, { minLength: 1, maxLength: 3 }),
    tool_choice: fc.constantFrom<unknown>("auto", "none", "required", {
      type: "function",
      function: { name: "lookup" },
    }),
    response_format: responseFormat,
    provider: sometimes(provider),
    models: fc.array(fc.constantFrom("to-openai", "to-anthropic", "to-gemini"), {
      minLength: 1,
      maxLength: 3,
    }),
    metadata: fc.record({ task: fc.constantFrom("extraction", "general") }),
    user: fc.constant(`user-${PROMPT_MARKER}`),
    seed: fc.integer(),
    logprobs: fc.boolean(),
  },
  { requiredKeys: ["model", "messages", "provider"] },
);

/** Values the chat API must refuse with a 400 naming the field. */
export const CHAT_INVALID_EDITS: Edit[] = [
  ...UNKNOWN_MODELS.map((model): Edit => [["model"], model]),
  [["messages"], []],
  [["messages", 0, "role"], "robot"],
  [["max_tokens"], 0],
  [["max_tokens"], -1],
  [["max_tokens"], 1.5],
  [["temperature"], -1],
  [["temperature"], 3],
  [["temperature"], "0.5"],
  [["n"], 0],
  [["n"], 129],
  [["stop"], ["a", "b", "c", "d", "e"]],
  [["stream"], "yes"],
  [["metadata", "task"], "Bad Task!"],
  [["metadata", "task"], "t".repeat(100)],
  [["models"], [""]],
  [["models"], ["nope"]],
  [["models"], []],
  [["provider", "sort"], "fastest"],
  [["provider", "order"], [""]],
  [["provider", "max_price", "prompt"], -1],
  [["provider", "max_price", "prompt"], "1e3"],
  [["provider"], "vo"],
  [["tools"], [{ type: "function", function: { name: "bad name!" } }]],
  [["tools"], [{ type: "function", function: { name: "x".repeat(65) } }]],
  [["response_format"], { type: "json_schema", json_schema: { name: "" } }],
  [["response_format"], { type: "xml" }],
];

export interface ChatCase {
  auth: Auth;
  contentType: string | null;
  task: string | null;
  body: Body;
  vendor: VendorPlan;
}

/** Whether the body the gateway will read asks for a stream. */
export function asksForStream(input: { body: Body }): boolean {
  const value = bodyValue(input.body) as { stream?: unknown } | null | undefined;
  return typeof value === "object" && value !== null && value.stream === true;
}

/** Whether an OpenAI client asked for the usage chunk at a stream's end. */
function asksForUsage(input: { body: Body }): boolean {
  const value = bodyValue(input.body) as { stream_options?: { include_usage?: unknown } } | null;
  return value?.stream_options?.include_usage === true;
}

export function headersOf(input: {
  auth: Auth;
  contentType: string | null;
  task: string | null;
}): Record<string, string> {
  const headers: Record<string, string> = { ...authHeaders(input.auth) };
  if (input.contentType !== null) headers["content-type"] = input.contentType;
  if (input.task !== null) headers["x-switchboard-task"] = input.task;
  return headers;
}

export const openAIChatTarget: FuzzTarget<ChatCase> = {
  api: "openai-chat",
  async start() {
    const harness: GatewayUnderTest = await startGatewayUnderTest();
    return {
      arbitrary: fc.record({
        auth,
        contentType,
        task: taskHeader,
        body: body(
          chatCompletionBody,
          `{"model":"to-openai","messages":[{"role":"user","content":"${PROMPT_MARKER}"}]`,
          CHAT_INVALID_EDITS,
        ),
        vendor: vendorPlan,
      }),
      async check(input) {
        const { violations } = await exchange(
          harness,
          {
            url: "/v1/chat/completions",
            headers: headersOf(input),
            payload: bodyText(input.body),
            api: "openai",
            streamed: asksForStream(input),
            clientWantsUsage: asksForUsage(input),
          },
          input.vendor,
        );
        return violations;
      },
      stats: () => statusStats(harness),
      stop: () => harness.stop(),
    };
  },
};

/** Answers by status, and how often each property applied, over the run (warm-up and replays included). */
export function statusStats(harness: GatewayUnderTest): Record<string, number> {
  return Object.fromEntries([
    ...[...harness.statuses.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, count]) => [`status_${status}`, count]),
    ...[...harness.applied.entries()].sort(([a], [b]) => a.localeCompare(b)),
  ]);
}
