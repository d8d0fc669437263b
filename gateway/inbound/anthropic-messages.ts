// Anthropic's Messages API as clients speak it (POST /v1/messages): strict
// validation, the translation to the neutral model, and the `message` object,
// the SSE event sequence (message_start, ping, content_block_start/delta/stop,
// message_delta with usage, message_stop, error) and the error body back.
import { z } from "zod";
import type { GatewayError } from "../errors.ts";
import {
  appendMessage,
  type CacheControl,
  type NeutralFinishReason,
  type NeutralPart,
  type NeutralRequest,
  type NeutralResponse,
  type NeutralStreamEvent,
  type NormalizedUsage,
} from "../neutral.ts";
import { truncated } from "../reflected-text.ts";
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

// ── The request ────────────────────────────────────────────────────────────────────────────

const cacheControl = z.looseObject({
  type: z.literal("ephemeral"),
  ttl: z.enum(["5m", "1h"]).optional(),
});
const textBlock = z.looseObject({
  type: z.literal("text"),
  text: z.string(),
  cache_control: cacheControl.nullish(),
});
const imageBlock = z.looseObject({
  type: z.literal("image"),
  source: z.discriminatedUnion("type", [
    z.looseObject({ type: z.literal("base64"), media_type: z.string(), data: z.string() }),
    z.looseObject({ type: z.literal("url"), url: z.string().min(1) }),
  ]),
  cache_control: cacheControl.nullish(),
});
const toolUseBlock = z.looseObject({
  type: z.literal("tool_use"),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl.nullish(),
});
const toolResultBlock = z.looseObject({
  type: z.literal("tool_result"),
  tool_use_id: z.string().min(1),
  content: z
    .union([z.string(), z.array(z.discriminatedUnion("type", [textBlock, imageBlock]))])
    .optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl.nullish(),
});
// Blocks only Anthropic itself understands: carried to it, a warning elsewhere.
const anthropicOnlyBlock = z.looseObject({
  type: z.enum([
    "thinking",
    "redacted_thinking",
    "document",
    "search_result",
    "server_tool_use",
    "web_search_tool_result",
    "container_upload",
  ]),
});
const contentBlock = z.discriminatedUnion("type", [
  textBlock,
  imageBlock,
  toolUseBlock,
  toolResultBlock,
  anthropicOnlyBlock,
]);

const customTool = z.looseObject({
  type: z.literal("custom").optional(),
  name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "1-64 letters, digits, '_' or '-'"),
  description: z.string().optional(),
  input_schema: z.looseObject({ type: z.literal("object") }),
  cache_control: cacheControl.nullish(),
});
// Anthropic's server tools (web search, code execution, …) are typed and versioned.
const serverTool = z.looseObject({ type: z.string().regex(/_\d{8}$/), name: z.string() });

export const createMessageRequest = z.looseObject({
  model: requestedModel,
  max_tokens: z.number().int().min(1),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(["user", "assistant"]),
        content: z.union([z.string(), z.array(contentBlock)]),
      }),
    )
    .min(1),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  tools: z.array(z.union([customTool, serverTool])).optional(),
  tool_choice: z
    .discriminatedUnion("type", [
      z.looseObject({ type: z.literal("auto"), disable_parallel_tool_use: z.boolean().optional() }),
      z.looseObject({ type: z.literal("any"), disable_parallel_tool_use: z.boolean().optional() }),
      z.looseObject({
        type: z.literal("tool"),
        name: z.string(),
        disable_parallel_tool_use: z.boolean().optional(),
      }),
      z.looseObject({ type: z.literal("none") }),
    ])
    .optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
});

export type CreateMessageRequest = z.infer<typeof createMessageRequest>;

const NEUTRAL_FIELDS = new Set([
  "model",
  "max_tokens",
  "messages",
  "system",
  "tools",
  "tool_choice",
  "temperature",
  "top_p",
  "top_k",
  "stop_sequences",
  "stream",
  "metadata",
]);

// ── To the neutral model ───────────────────────────────────────────────────────────────────

function cacheControlOf(block: { cache_control?: CacheControl | null }): {
  cacheControl?: CacheControl;
} {
  return block.cache_control ? { cacheControl: block.cache_control } : {};
}

export function fromAnthropicRequest(body: CreateMessageRequest): TranslatedRequest {
  const warnings: string[] = [];
  const system: NeutralRequest["system"] =
    body.system === undefined
      ? []
      : typeof body.system === "string"
        ? [{ type: "text", text: body.system }]
        : body.system.map((block) => ({
            type: "text",
            text: block.text,
            ...cacheControlOf(block),
          }));
  const messages: NeutralRequest["messages"] = [];
  for (const each of body.messages) {
    const parts: NeutralPart[] =
      typeof each.content === "string"
        ? [{ type: "text", text: each.content }]
        : each.content.flatMap((block) => toNeutralParts(block, warnings));
    appendMessage(messages, { role: each.role, parts });
  }
  const tools: NeutralRequest["tools"] = [];
  for (const each of body.tools ?? []) {
    if ("input_schema" in each && each.input_schema) {
      const custom = each as z.infer<typeof customTool>;
      tools.push({
        name: custom.name,
        ...(custom.description !== undefined ? { description: custom.description } : {}),
        parameters: custom.input_schema,
        ...cacheControlOf(custom),
      });
    } else
      warnings.push(
        `the server tool '${truncated(each.name)}' reaches Anthropic only; it was not sent`,
      );
  }
  const passthrough: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(body)) {
    if (!NEUTRAL_FIELDS.has(field) && value !== undefined) passthrough[field] = value;
  }
  const request: NeutralRequest = {
    model: body.model,
    system,
    messages,
    tools,
    maxOutputTokens: body.max_tokens,
    stream: body.stream === true,
    inbound: "anthropic",
    passthrough,
  };
  // Structured output: Anthropic's output_config.format is OpenAI's json_schema response format.
  const outputConfig = passthrough.output_config;
  if (isJsonSchemaOutput(outputConfig)) {
    request.responseFormat = {
      type: "json_schema",
      name: "output",
      schema: outputConfig.format.schema,
    };
    delete passthrough.output_config;
  }
  const choice = body.tool_choice;
  if (choice) {
    request.toolChoice =
      choice.type === "tool"
        ? { type: "tool", name: choice.name }
        : { type: choice.type === "any" ? "required" : choice.type };
    if ("disable_parallel_tool_use" in choice && choice.disable_parallel_tool_use === true) {
      request.parallelToolCalls = false;
    }
  }
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== undefined) request.topP = body.top_p;
  if (body.top_k !== undefined) request.topK = body.top_k;
  if (body.stop_sequences !== undefined) request.stopSequences = body.stop_sequences;
  if (body.metadata?.user_id) request.user = body.metadata.user_id;
  return { request, warnings };
}

function isJsonSchemaOutput(
  value: unknown,
): value is { format: { type: "json_schema"; schema: Record<string, unknown> } } {
  if (typeof value !== "object" || value === null) return false;
  const format = (value as { format?: unknown }).format;
  return (
    Object.keys(value).length === 1 &&
    typeof format === "object" &&
    format !== null &&
    (format as { type?: unknown }).type === "json_schema" &&
    typeof (format as { schema?: unknown }).schema === "object"
  );
}

function toNeutralParts(block: z.infer<typeof contentBlock>, warnings: string[]): NeutralPart[] {
  switch (block.type) {
    case "text":
      return [{ type: "text", text: block.text, ...cacheControlOf(block) }];
    case "image": {
      const image = block as z.infer<typeof imageBlock>;
      return [
        {
          type: "image",
          source:
            image.source.type === "url"
              ? { kind: "url", url: image.source.url }
              : { kind: "base64", mediaType: image.source.media_type, data: image.source.data },
          ...cacheControlOf(image),
        },
      ];
    }
    case "tool_use": {
      const use = block as z.infer<typeof toolUseBlock>;
      return [
        { type: "tool_call", id: use.id, name: use.name, argumentsJson: JSON.stringify(use.input) },
      ];
    }
    case "tool_result": {
      const result = block as z.infer<typeof toolResultBlock>;
      let content = "";
      if (typeof result.content === "string") content = result.content;
      else {
        for (const part of result.content ?? []) {
          if (part.type === "text") content += (part as { text: string }).text;
          else
            warnings.push("an image inside a tool_result reaches Anthropic only; it was not sent");
        }
      }
      return [
        {
          type: "tool_result",
          toolCallId: result.tool_use_id,
          content,
          isError: result.is_error === true,
          ...cacheControlOf(result),
        },
      ];
    }
    default:
      warnings.push(`a '${truncated(block.type)}' block reaches Anthropic only; it was not sent`);
      return [];
  }
}

// ── From the neutral model: answers ────────────────────────────────────────────────────────

export function toAnthropicStopReason(reason: NeutralFinishReason): string {
  switch (reason) {
    case "length":
      return "max_tokens";
    case "tool_calls":
      return "tool_use";
    case "stop_sequence":
      return "stop_sequence";
    case "content_filter":
    case "refusal":
      return "refusal";
    default:
      return "end_turn";
  }
}

/** Anthropic's input_tokens leave out cache reads and writes, which it reports apart. */
export function toAnthropicUsage(usage: NormalizedUsage) {
  return {
    input_tokens: Math.max(
      0,
      usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteInputTokens,
    ),
    output_tokens: usage.outputTokens,
    cache_creation_input_tokens: usage.cacheWriteInputTokens,
    cache_read_input_tokens: usage.cachedInputTokens,
  };
}

function messageIdOf(id: string, requestId: string): string {
  return id.startsWith("msg_") ? id : `msg_${requestId.replace(/^req_/, "")}`;
}

export function toAnthropicMessage(
  response: NeutralResponse,
  usage: NormalizedUsage,
  requestId: string,
) {
  const content: Record<string, unknown>[] = [];
  for (const part of response.parts) {
    if (part.type === "text") content.push({ type: "text", text: part.text });
    else if (part.type === "tool_call") {
      content.push({
        type: "tool_use",
        id: part.id,
        name: part.name,
        input: argumentsObjectOf(part.argumentsJson),
      });
    }
  }
  return {
    id: messageIdOf(response.id, requestId),
    type: "message",
    role: "assistant",
    model: response.model,
    content,
    stop_reason: toAnthropicStopReason(response.finishReason),
    stop_sequence: response.stopSequence ?? null,
    usage: toAnthropicUsage(usage),
  };
}

function argumentsObjectOf(argumentsJson: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(argumentsJson === "" ? "{}" : argumentsJson);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : { value: parsed };
  } catch {
    // A vendor's malformed arguments are kept, not lost, under a key that says so.
    return { unparsed_arguments: argumentsJson };
  }
}

function frame(type: string, data: Record<string, unknown>): string {
  return formatServerSentEvent(JSON.stringify({ type, ...data }), type);
}

/**
 * Neutral events as Anthropic's event sequence. message_start waits for the
 * first content so it can carry the input usage a vendor reports up front;
 * message_delta waits for the end, where every vendor's final usage is known.
 */
class AnthropicEventWriter implements InboundStreamWriter {
  private id: string;
  private model = "";
  private started = false;
  private usage: NormalizedUsage | null = null;
  /** The open content block: its index and kind. */
  private open: { index: number; kind: "text" | "tool_use" } | null = null;
  private nextBlock = 0;
  private readonly blockByToolCall = new Map<number, number>();
  private stopReason = "end_turn";
  private stopSequence: string | null = null;

  constructor(requestId: string) {
    this.id = messageIdOf("", requestId);
  }

  write(event: NeutralStreamEvent): string {
    switch (event.type) {
      case "start":
        if (event.id.startsWith("msg_")) this.id = event.id;
        this.model = event.model;
        return "";
      case "usage":
        this.usage = event.usage;
        return "";
      case "text_delta": {
        let frames = this.start();
        if (this.open?.kind !== "text") {
          frames += this.closeBlock();
          frames += this.openBlock("text", { type: "text", text: "" });
        }
        return (
          frames +
          frame("content_block_delta", {
            index: this.open?.index,
            delta: { type: "text_delta", text: event.text },
          })
        );
      }
      case "tool_call_start": {
        let frames = this.start() + this.closeBlock();
        frames += this.openBlock("tool_use", {
          type: "tool_use",
          id: event.id,
          name: event.name,
          input: {},
        });
        this.blockByToolCall.set(event.index, this.open?.index ?? 0);
        return frames;
      }
      case "tool_call_delta": {
        const index = this.blockByToolCall.get(event.index);
        if (index === undefined) return "";
        return frame("content_block_delta", {
          index,
          delta: { type: "input_json_delta", partial_json: event.argumentsJson },
        });
      }
      case "finish":
        this.stopReason = toAnthropicStopReason(event.finishReason);
        this.stopSequence = event.stopSequence ?? null;
        return this.start() + this.closeBlock();
      default:
        return "";
    }
  }

  end(usage: NormalizedUsage | null): string {
    const final = toAnthropicUsage(usage ?? this.usage ?? zeroUsage());
    return (
      this.start() +
      this.closeBlock() +
      frame("message_delta", {
        delta: { stop_reason: this.stopReason, stop_sequence: this.stopSequence },
        // Totals for the whole message, input included: the Anthropic SDKs take them from here.
        usage: final,
      }) +
      frame("message_stop", {})
    );
  }

  error(error: GatewayError): string {
    const body = error.toAnthropic();
    return frame("error", { error: body.error });
  }

  private start(): string {
    if (this.started) return "";
    this.started = true;
    const usage = toAnthropicUsage(this.usage ?? zeroUsage());
    return (
      frame("message_start", {
        message: {
          id: this.id,
          type: "message",
          role: "assistant",
          content: [],
          model: this.model,
          stop_reason: null,
          stop_sequence: null,
          usage,
        },
      }) + frame("ping", {})
    );
  }

  private openBlock(kind: "text" | "tool_use", block: Record<string, unknown>): string {
    this.open = { index: this.nextBlock++, kind };
    return frame("content_block_start", { index: this.open.index, content_block: block });
  }

  private closeBlock(): string {
    if (!this.open) return "";
    const index = this.open.index;
    this.open = null;
    return frame("content_block_stop", { index });
  }
}

function zeroUsage(): NormalizedUsage {
  return {
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
  };
}

export const anthropicMessagesApi: InboundChatApi = {
  protocol: "anthropic",

  /** Anthropic's SDKs send `x-api-key`; a bearer token is taken too. */
  apiKeyOf(headers) {
    const key = headers["x-api-key"];
    const value = Array.isArray(key) ? key[0] : key;
    return value?.trim() || bearerKeyOf(headers.authorization);
  },

  parse(body): ParsedChatRequest {
    const request = parseStrictly(createMessageRequest, body);
    return {
      model: request.model,
      stream: request.stream === true,
      clientWantsUsage: true,
      body: request,
    };
  },

  toNeutral(body) {
    return fromAnthropicRequest(body as CreateMessageRequest);
  },

  renderResponse: toAnthropicMessage,

  createStreamWriter({ requestId }) {
    return new AnthropicEventWriter(requestId);
  },

  renderError(error: GatewayError) {
    return error.toAnthropic();
  },
};
