// OpenAI's Chat Completions API as clients speak it (POST /v1/chat/completions):
// strict validation of what the gateway reads, the translation to the neutral
// model for vendors of other protocols, and the `chat.completion` object, the
// `chat.completion.chunk` stream and the error body written back.
import { z } from "zod";
import type { GatewayError } from "../errors.ts";
import {
  appendMessage,
  type NeutralFinishReason,
  type NeutralMessage,
  type NeutralPart,
  type NeutralRequest,
  type NeutralResponse,
  type NeutralStreamEvent,
  type NeutralToolChoice,
  type NormalizedUsage,
} from "../neutral.ts";
import { formatServerSentEvent } from "../vendors/server-sent-events.ts";
import {
  bearerKeyOf,
  type InboundChatApi,
  type InboundStreamWriter,
  type ParsedChatRequest,
  parseStrictly,
  requestedModel,
  type TranslatedRequest,
} from "./inbound-api.ts";

// ── The request, strictly: every field the gateway reads is checked; fields it
// does not know pass through to vendors of the same protocol untouched.

const textPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const imagePart = z.looseObject({
  type: z.literal("image_url"),
  image_url: z.looseObject({
    url: z.string().min(1),
    detail: z.enum(["auto", "low", "high"]).optional(),
  }),
});
const audioPart = z.looseObject({
  type: z.literal("input_audio"),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});
const filePart = z.looseObject({ type: z.literal("file"), file: z.looseObject({}) });
const refusalPart = z.looseObject({ type: z.literal("refusal"), refusal: z.string() });
const textContent = z.union([z.string(), z.array(textPart)]);

const toolCall = z.looseObject({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.discriminatedUnion("role", [
  z.looseObject({ role: z.enum(["system", "developer"]), content: textContent }),
  z.looseObject({
    role: z.literal("user"),
    content: z.union([
      z.string(),
      z.array(z.discriminatedUnion("type", [textPart, imagePart, audioPart, filePart])),
    ]),
  }),
  z.looseObject({
    role: z.literal("assistant"),
    content: z
      .union([z.string(), z.array(z.discriminatedUnion("type", [textPart, refusalPart]))])
      .nullish(),
    tool_calls: z.array(toolCall).nullish(),
  }),
  z.looseObject({ role: z.literal("tool"), content: textContent, tool_call_id: z.string().min(1) }),
  z.looseObject({ role: z.literal("function"), content: z.string().nullable(), name: z.string() }),
]);

const functionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "1-64 letters, digits, '_' or '-'");

const tool = z.discriminatedUnion("type", [
  z.looseObject({
    type: z.literal("function"),
    function: z.looseObject({
      name: functionName,
      description: z.string().optional(),
      parameters: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
  // Custom (free-text) tools reach OpenAI itself only.
  z.looseObject({ type: z.literal("custom"), custom: z.looseObject({ name: z.string() }) }),
]);

const toolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string() }) }),
  z.looseObject({ type: z.enum(["allowed_tools", "custom"]) }),
]);

const responseFormat = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({
    type: z.literal("json_schema"),
    json_schema: z.looseObject({
      name: functionName,
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

export const chatCompletionRequest = z.looseObject({
  model: requestedModel,
  messages: z.array(message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: responseFormat.nullish(),
  user: z.string().optional(),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((pairs) => Object.keys(pairs).length <= 16, "at most 16 pairs")
    .nullish(),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;
type ChatMessage = ChatCompletionRequest["messages"][number];

// Fields the neutral model carries; everything else is passed through.
const NEUTRAL_FIELDS = new Set([
  "model",
  "messages",
  "stream",
  "stream_options",
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "stop",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "response_format",
  "user",
  "metadata",
]);

// ── To the neutral model ───────────────────────────────────────────────────────────────────

export function fromOpenAIChatRequest(body: ChatCompletionRequest): TranslatedRequest {
  const warnings: string[] = [];
  const system: NeutralRequest["system"] = [];
  const messages: NeutralMessage[] = [];
  let systemAfterConversation = false;
  for (const each of body.messages) {
    if (each.role === "system" || each.role === "developer") {
      if (messages.length > 0) systemAfterConversation = true;
      system.push({ type: "text", text: textOfContent(each.content) });
    } else {
      appendMessage(messages, toNeutralMessage(each as ConversationMessage, warnings));
    }
  }
  if (systemAfterConversation) {
    warnings.push(
      "system messages after the conversation began were moved to the top-level system prompt",
    );
  }
  const tools: NeutralRequest["tools"] = [];
  for (const each of body.tools ?? []) {
    if (each.type === "function") {
      tools.push({
        name: each.function.name,
        ...(each.function.description !== undefined
          ? { description: each.function.description }
          : {}),
        parameters: each.function.parameters ?? { type: "object", properties: {} },
        ...(each.function.strict != null ? { strict: each.function.strict } : {}),
      });
    } else warnings.push(`a '${each.type}' tool reaches OpenAI only; it was not sent`);
  }
  const passthrough: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body)) {
    if (!NEUTRAL_FIELDS.has(field) && value !== undefined && value !== null)
      passthrough[field] = value;
  }
  const request: NeutralRequest = {
    model: body.model,
    system,
    messages,
    tools,
    stream: body.stream === true,
    inbound: "openai",
    passthrough,
  };
  const choice = toNeutralToolChoice(body.tool_choice, warnings);
  if (choice) request.toolChoice = choice;
  if (body.parallel_tool_calls != null) request.parallelToolCalls = body.parallel_tool_calls;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens != null) request.maxOutputTokens = maxTokens;
  if (body.temperature != null) request.temperature = body.temperature;
  if (body.top_p != null) request.topP = body.top_p;
  if (body.stop != null)
    request.stopSequences = typeof body.stop === "string" ? [body.stop] : body.stop;
  const format = body.response_format;
  if (format) {
    request.responseFormat =
      format.type === "json_schema"
        ? {
            type: "json_schema",
            name: format.json_schema.name,
            schema: format.json_schema.schema ?? {},
            ...(format.json_schema.strict != null ? { strict: format.json_schema.strict } : {}),
          }
        : { type: format.type };
  }
  if (body.user !== undefined) request.user = body.user;
  if (body.metadata != null) request.metadata = body.metadata;
  return { request, warnings };
}

function toNeutralToolChoice(
  choice: ChatCompletionRequest["tool_choice"],
  warnings: string[],
): NeutralToolChoice | undefined {
  if (choice == null) return undefined;
  if (typeof choice === "string") return { type: choice };
  if (choice.type === "function" && "function" in choice) {
    return { type: "tool", name: (choice.function as { name: string }).name };
  }
  warnings.push(`tool_choice '${choice.type}' reaches OpenAI only; 'auto' was sent`);
  return { type: "auto" };
}

function textOfContent(content: string | { text: string }[]): string {
  return typeof content === "string" ? content : content.map((part) => part.text).join("");
}

type ConversationMessage = Exclude<ChatMessage, { role: "system" | "developer" }>;

function toNeutralMessage(each: ConversationMessage, warnings: string[]): NeutralMessage {
  switch (each.role) {
    case "user": {
      if (typeof each.content === "string")
        return { role: "user", parts: [{ type: "text", text: each.content }] };
      const parts: NeutralPart[] = [];
      for (const part of each.content) {
        if (part.type === "text") parts.push({ type: "text", text: part.text });
        else if (part.type === "image_url") parts.push(imageFrom(part.image_url.url));
        else warnings.push(`a '${part.type}' content part reaches OpenAI only; it was not sent`);
      }
      return { role: "user", parts };
    }
    case "assistant": {
      const parts: NeutralPart[] = [];
      if (typeof each.content === "string") {
        if (each.content !== "") parts.push({ type: "text", text: each.content });
      } else if (each.content) {
        for (const part of each.content) {
          parts.push({ type: "text", text: part.type === "text" ? part.text : part.refusal });
        }
      }
      for (const call of each.tool_calls ?? []) {
        parts.push({
          type: "tool_call",
          id: call.id,
          name: call.function.name,
          argumentsJson: call.function.arguments,
        });
      }
      return { role: "assistant", parts };
    }
    case "tool":
      return {
        role: "user",
        parts: [
          {
            type: "tool_result",
            toolCallId: each.tool_call_id,
            content: textOfContent(each.content),
            isError: false,
          },
        ],
      };
    case "function":
      warnings.push("the deprecated 'function' role was sent as a tool result");
      return {
        role: "user",
        parts: [
          {
            type: "tool_result",
            toolCallId: each.name,
            content: each.content ?? "",
            isError: false,
          },
        ],
      };
  }
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageFrom(url: string): NeutralPart {
  const match = DATA_URL.exec(url);
  if (match) {
    return {
      type: "image",
      source: { kind: "base64", mediaType: match[1] as string, data: match[2] as string },
    };
  }
  return { type: "image", source: { kind: "url", url } };
}

// ── From the neutral model: answers ────────────────────────────────────────────────────────

export function toOpenAIFinishReason(reason: NeutralFinishReason): string {
  switch (reason) {
    case "length":
      return "length";
    case "tool_calls":
      return "tool_calls";
    case "content_filter":
    case "refusal":
      return "content_filter";
    default:
      return "stop";
  }
}

export function toOpenAIUsage(usage: NormalizedUsage) {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function toOpenAIChatCompletion(
  response: NeutralResponse,
  usage: NormalizedUsage,
  requestId: string,
) {
  const text = response.parts
    .filter((part) => part.type === "text")
    .map((part) => part.text)
    .join("");
  const toolCalls = response.parts.flatMap((part) =>
    part.type === "tool_call"
      ? [
          {
            id: part.id,
            type: "function",
            function: { name: part.name, arguments: part.argumentsJson },
          },
        ]
      : [],
  );
  return {
    id: response.id || `chatcmpl-${requestId}`,
    object: "chat.completion",
    created: nowSeconds(),
    model: response.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text === "" && toolCalls.length > 0 ? null : text,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: toOpenAIFinishReason(response.finishReason),
      },
    ],
    usage: toOpenAIUsage(usage),
  };
}

/** Neutral events as `chat.completion.chunk` frames, ending with `data: [DONE]`. */
class OpenAIChunkWriter implements InboundStreamWriter {
  private id: string;
  private model = "";
  private readonly created = nowSeconds();
  private started = false;

  constructor(
    requestId: string,
    private readonly clientWantsUsage: boolean,
  ) {
    this.id = `chatcmpl-${requestId}`;
  }

  write(event: NeutralStreamEvent): string {
    switch (event.type) {
      case "start":
        if (event.id) this.id = event.id;
        this.model = event.model;
        return this.start();
      case "text_delta":
        return this.start() + this.chunk({ content: event.text }, null);
      case "tool_call_start":
        return (
          this.start() +
          this.chunk(
            {
              tool_calls: [
                {
                  index: event.index,
                  id: event.id,
                  type: "function",
                  function: { name: event.name, arguments: "" },
                },
              ],
            },
            null,
          )
        );
      case "tool_call_delta":
        return (
          this.start() +
          this.chunk(
            { tool_calls: [{ index: event.index, function: { arguments: event.argumentsJson } }] },
            null,
          )
        );
      case "finish":
        return this.start() + this.chunk({}, toOpenAIFinishReason(event.finishReason));
      default:
        // Reasoning has no place in OpenAI's chunks; usage is written at the end; errors by error().
        return "";
    }
  }

  end(usage: NormalizedUsage | null): string {
    let frames = this.start();
    if (this.clientWantsUsage && usage) {
      frames += formatServerSentEvent(
        JSON.stringify({ ...this.prefix(), choices: [], usage: toOpenAIUsage(usage) }),
      );
    }
    return `${frames}data: [DONE]\n\n`;
  }

  error(error: GatewayError): string {
    return formatServerSentEvent(JSON.stringify(error.toOpenAI()));
  }

  /** The role chunk, once, before anything else. */
  private start(): string {
    if (this.started) return "";
    this.started = true;
    return this.chunk({ role: "assistant", content: "" }, null);
  }

  private prefix() {
    return {
      id: this.id,
      object: "chat.completion.chunk",
      created: this.created,
      model: this.model,
    };
  }

  private chunk(delta: Record<string, unknown>, finishReason: string | null): string {
    return formatServerSentEvent(
      JSON.stringify({
        ...this.prefix(),
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      }),
    );
  }
}

export const openAIChatApi: InboundChatApi = {
  protocol: "openai",

  apiKeyOf(headers) {
    return bearerKeyOf(headers.authorization);
  },

  parse(body): ParsedChatRequest {
    const request = parseStrictly(chatCompletionRequest, body);
    return {
      model: request.model,
      stream: request.stream === true,
      clientWantsUsage: request.stream_options?.include_usage === true,
      body: request,
    };
  },

  toNeutral(body) {
    return fromOpenAIChatRequest(body as ChatCompletionRequest);
  },

  renderResponse: toOpenAIChatCompletion,

  createStreamWriter({ requestId, clientWantsUsage }) {
    return new OpenAIChunkWriter(requestId, clientWantsUsage);
  },

  renderError(error: GatewayError) {
    return error.toOpenAI();
  },
};
