// POST /v1/messages, whole and streamed, against fake Anthropic (pass-through),
// OpenAI and Gemini (translated) vendors: content blocks of every kind, tools
// with any JSON Schema, system prompts, and any JSON at any place of the body.
import fc from "fast-check";
import {
  auth,
  body,
  bodyText,
  contentType,
  type Edit,
  jsonSchema,
  promptText,
  toolName,
} from "./client-requests.ts";
import { exchange, startGatewayUnderTest } from "./gateway-harness.ts";
import { PROMPT_MARKER } from "./markers.ts";
import {
  asksForStream,
  type ChatCase,
  chatModel,
  headersOf,
  statusStats,
  taskHeader,
  UNKNOWN_MODELS,
} from "./openai-chat.fuzz.ts";
import type { FuzzTarget } from "./runner.ts";
import { vendorPlan } from "./vendor-replies.ts";

const cacheControl = fc.constant({ type: "ephemeral" });

const textBlock = fc.record(
  { type: fc.constant("text"), text: promptText, cache_control: cacheControl },
  { requiredKeys: ["type", "text"] },
);

const userBlock = fc.oneof(
  { weight: 4, arbitrary: textBlock },
  fc.constant({ type: "image", source: { type: "url", url: "https://example.com/cat.png" } }),
  promptText.map((content) => ({ type: "tool_result", tool_use_id: "toolu_0", content })),
  fc.constant({
    type: "document",
    source: { type: "text", media_type: "text/plain", data: PROMPT_MARKER },
  }),
);

const assistantBlock = fc.oneof(
  { weight: 4, arbitrary: textBlock },
  fc.constant({ type: "tool_use", id: "toolu_0", name: "lookup", input: { q: PROMPT_MARKER } }),
  fc.constant({
    type: "thinking",
    thinking: `${PROMPT_MARKER} earlier thought`,
    signature: "c2ln",
  }),
);

const message = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      role: fc.constant("user"),
      content: fc.oneof(promptText, fc.array(userBlock, { minLength: 1, maxLength: 3 })),
    }),
  },
  fc.record({
    role: fc.constant("assistant"),
    content: fc.oneof(promptText, fc.array(assistantBlock, { minLength: 1, maxLength: 2 })),
  }),
);

const tool = fc.record(
  {
    name: toolName,
    description: promptText,
    input_schema: jsonSchema.map((schema) => ({ ...schema, type: "object" })),
    cache_control: cacheControl,
  },
  { requiredKeys: ["name", "input_schema"] },
);

export const createMessageBody = fc.record(
  {
    model: chatModel,
    max_tokens: fc.integer({ min: 1, max: 8192 }),
    messages: fc.array(message, { minLength: 1, maxLength: 4 }),
    system: fc.oneof(promptText, fc.array(textBlock, { minLength: 1, maxLength: 2 })),
    tools: fc.array(tool, { minLength: 1, maxLength: 3 }),
    tool_choice: fc.constantFrom<unknown>(
      { type: "auto" },
      { type: "any" },
      { type: "tool", name: "lookup" },
      { type: "none" },
    ),
    temperature: fc.double({ min: 0, max: 1, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    top_k: fc.nat({ max: 500 }),
    stop_sequences: fc.array(fc.constantFrom("END", "\n\nHuman:"), { maxLength: 3 }),
    stream: fc.boolean(),
    metadata: fc.record(
      {
        user_id: fc.constant(`user-${PROMPT_MARKER}`),
        task: fc.constantFrom("extraction", "general"),
      },
      { requiredKeys: [] },
    ),
    thinking: fc.constant({ type: "enabled", budget_tokens: 1024 }),
  },
  { requiredKeys: ["model", "max_tokens", "messages"] },
);

/** Values the Messages API must refuse with a 400. */
export const MESSAGES_INVALID_EDITS: Edit[] = [
  ...UNKNOWN_MODELS.map((model): Edit => [["model"], model]),
  [["max_tokens"], 0],
  [["max_tokens"], -1],
  [["max_tokens"], undefined],
  [["max_tokens"], 1.5],
  [["messages"], []],
  [["messages", 0, "role"], "system"],
  [["messages", 0, "content"], 5],
  [["system"], 5],
  [["temperature"], 1.5],
  [["top_k"], -1],
  [["stream"], "yes"],
  [["tools"], [{ name: "bad name!", input_schema: { type: "object" } }]],
  [["tools"], [{ name: "lookup", input_schema: { type: "array" } }]],
  [["tool_choice"], { type: "bogus" }],
  [["metadata", "task"], "Bad Task!"],
];

export const anthropicMessagesTarget: FuzzTarget<ChatCase> = {
  api: "anthropic-messages",
  async start() {
    const harness = await startGatewayUnderTest();
    return {
      arbitrary: fc.record({
        auth,
        contentType,
        task: taskHeader,
        body: body(
          createMessageBody,
          `{"model":"to-anthropic","max_tokens":64,"messages":[{"role":"user","content":"${PROMPT_MARKER}"}]`,
          MESSAGES_INVALID_EDITS,
        ),
        vendor: vendorPlan,
      }),
      async check(input) {
        const { violations } = await exchange(
          harness,
          {
            url: "/v1/messages",
            headers: { ...headersOf(input), "anthropic-version": "2023-06-01" },
            payload: bodyText(input.body),
            api: "anthropic",
            streamed: asksForStream(input),
            clientWantsUsage: true,
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
