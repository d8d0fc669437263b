// Anthropic's Messages API (POST /v1/messages), streamed and not: requests
// from the neutral model, answers and the SSE event sequence (message_start,
// content_block_*, message_delta, message_stop, ping, error) back into it.
import type { IncomingHttpHeaders } from "node:http";
import type { VendorConfig } from "../config.ts";
import {
  type AttemptFailure,
  failureFromStatus,
  retryAfterSecondsOf,
  UpstreamAnswerError,
} from "../failures.ts";
import type {
  NeutralFinish,
  NeutralFinishReason,
  NeutralMessage,
  NeutralOutputPart,
  NeutralPart,
  NeutralRequest,
  NeutralResponse,
  NeutralStreamEvent,
  UsageReading,
} from "../neutral.ts";
import {
  isRecord,
  numberOr,
  parseJsonLeniently,
  type StreamDecoder,
  stringOr,
  type UpstreamRequest,
  type VendorAdapter,
  vendorFinishReasonOf,
} from "./adapter.ts";
import { ServerSentEventReader } from "./server-sent-events.ts";
import { pushUsage, readUsage, usageFieldsOf } from "./usage-contract.ts";

type AnthropicVendorConfig = Extract<VendorConfig, { protocol: "anthropic" }>;

// Anthropic's sampling temperature stops at 1; OpenAI's goes to 2.
const MAX_TEMPERATURE = 1;

export function createAnthropicAdapter(
  config: AnthropicVendorConfig,
  apiKey: string | undefined,
): VendorAdapter {
  const baseHeaders: Record<string, string> = {
    "content-type": "application/json",
    "anthropic-version": config.anthropic_version,
  };
  if (apiKey) baseHeaders["x-api-key"] = apiKey;

  return {
    protocol: "anthropic",
    providerName: "anthropic",

    toChatRequest(request, model): UpstreamRequest {
      const warnings: string[] = [];
      const body = toAnthropicRequest(request, model, config.default_max_tokens, warnings);
      return {
        method: "POST",
        path: "/messages",
        headers: baseHeaders,
        body: JSON.stringify(body),
        warnings,
      };
    },

    fromChatResponse: fromAnthropicMessage,
    createStreamDecoder: () => new AnthropicStreamDecoder(),
    fromUsage: fromAnthropicUsage,
    mapError: mapAnthropicError,
    // In the usage: standard, priority, batch.
    serviceTierOf: (answer) => {
      const word = (answer as { usage?: { service_tier?: unknown } } | null)?.usage?.service_tier;
      return typeof word === "string" ? word : null;
    },

    passThrough: {
      protocol: "anthropic",
      toChatRequest(clientBody, model, clientHeaders) {
        const headers = { ...baseHeaders };
        // Beta features the client opted into travel with its request.
        const beta = clientHeaders?.["anthropic-beta"];
        if (beta) headers["anthropic-beta"] = Array.isArray(beta) ? beta.join(",") : beta;
        return {
          method: "POST",
          path: "/messages",
          headers,
          body: JSON.stringify({ ...clientBody, model }),
          warnings: [],
        };
      },
      finishOf: (answer) => mapAnthropicStopReason(isRecord(answer) ? answer.stop_reason : null),
    },
  };
}

// ── Requests ──────────────────────────────────────────────────────────────────────────────

export function toAnthropicRequest(
  request: NeutralRequest,
  model: string,
  defaultMaxTokens: number,
  warnings: string[],
): Record<string, unknown> {
  let maxTokens = request.maxOutputTokens;
  if (maxTokens === undefined) {
    maxTokens = defaultMaxTokens;
    warnings.push(
      `Anthropic requires max_tokens; ${defaultMaxTokens} was sent (the vendor's configured default)`,
    );
  }
  const body: Record<string, unknown> = {
    model,
    max_tokens: maxTokens,
    messages: mergeConsecutiveRoles(request.messages).map(toAnthropicMessage),
  };
  if (request.system.length > 0) {
    body.system = request.system.some((part) => part.cacheControl)
      ? request.system.map((part) => textBlock(part.text, part.cacheControl))
      : request.system.map((part) => part.text).join("\n\n");
  }
  if (request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      input_schema: tool.parameters,
      ...(tool.cacheControl ? { cache_control: tool.cacheControl } : {}),
    }));
  }
  const choice = request.toolChoice;
  if (choice || request.parallelToolCalls === false) {
    const type =
      !choice || choice.type === "auto" ? "auto" : choice.type === "required" ? "any" : choice.type;
    body.tool_choice = {
      type,
      ...(choice?.type === "tool" ? { name: choice.name } : {}),
      ...(request.parallelToolCalls === false && type !== "none"
        ? { disable_parallel_tool_use: true }
        : {}),
    };
  }
  if (request.temperature !== undefined) {
    if (request.temperature > MAX_TEMPERATURE) {
      warnings.push(
        `Anthropic's temperature is at most ${MAX_TEMPERATURE}; ${request.temperature} was sent as ${MAX_TEMPERATURE}`,
      );
    }
    body.temperature = Math.min(request.temperature, MAX_TEMPERATURE);
  }
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.topK !== undefined) body.top_k = request.topK;
  if (request.stopSequences !== undefined) body.stop_sequences = request.stopSequences;
  const format = request.responseFormat;
  if (format?.type === "json_schema") {
    body.output_config = { format: { type: "json_schema", schema: format.schema } };
  } else if (format?.type === "json_object") {
    warnings.push(
      "Anthropic has no plain JSON mode (only a JSON schema); response_format json_object was not sent",
    );
  }
  if (request.user !== undefined) body.metadata = { user_id: request.user };
  if (request.metadata !== undefined)
    warnings.push("Anthropic does not take OpenAI's 'metadata'; it was not sent");
  if (request.stream) body.stream = true;
  for (const [field, value] of Object.entries(request.passthrough)) {
    // An Anthropic client's unknown fields (thinking, service_tier, …) are meant for Anthropic.
    if (request.inbound === "anthropic") body[field] ??= value;
    else warnings.push(`'${field}' is not part of Anthropic's Messages API; it was not sent`);
  }
  return body;
}

/** Anthropic wants one turn per role in alternation; OpenAI's tool messages arrive one each. */
function mergeConsecutiveRoles(messages: NeutralMessage[]): NeutralMessage[] {
  const merged: NeutralMessage[] = [];
  for (const message of messages) {
    const previous = merged.at(-1);
    if (previous && previous.role === message.role) {
      // Tool results lead a user turn, as Anthropic requires.
      const parts = [...previous.parts, ...message.parts];
      merged[merged.length - 1] = {
        role: message.role,
        parts: [
          ...parts.filter((part) => part.type === "tool_result"),
          ...parts.filter((part) => part.type !== "tool_result"),
        ],
      };
    } else merged.push(message);
  }
  return merged;
}

function textBlock(text: string, cacheControl: Record<string, unknown> | undefined) {
  return { type: "text", text, ...(cacheControl ? { cache_control: cacheControl } : {}) };
}

function toAnthropicMessage(message: NeutralMessage): Record<string, unknown> {
  const blocks = message.parts.flatMap((part) => toAnthropicBlock(part));
  const onlyText =
    blocks.length === 1 && blocks[0]?.type === "text" && !("cache_control" in blocks[0]);
  return { role: message.role, content: onlyText ? blocks[0]?.text : blocks };
}

function toAnthropicBlock(part: NeutralPart): Record<string, unknown>[] {
  switch (part.type) {
    case "text":
      // Anthropic refuses empty text blocks.
      return part.text === "" ? [] : [textBlock(part.text, part.cacheControl)];
    case "image":
      return [
        {
          type: "image",
          source:
            part.source.kind === "url"
              ? { type: "url", url: part.source.url }
              : { type: "base64", media_type: part.source.mediaType, data: part.source.data },
          ...(part.cacheControl ? { cache_control: part.cacheControl } : {}),
        },
      ];
    case "tool_call":
      return [
        {
          type: "tool_use",
          id: part.id,
          name: part.name,
          input: parseArguments(part.argumentsJson),
        },
      ];
    case "tool_result":
      return [
        {
          type: "tool_result",
          tool_use_id: part.toolCallId,
          content: part.content,
          ...(part.isError ? { is_error: true } : {}),
          ...(part.cacheControl ? { cache_control: part.cacheControl } : {}),
        },
      ];
  }
}

/** Tool arguments arrive as JSON text; Anthropic wants the object. */
function parseArguments(argumentsJson: string): Record<string, unknown> {
  const parsed = parseJsonLeniently(argumentsJson);
  return isRecord(parsed) ? parsed : {};
}

// ── Answers ───────────────────────────────────────────────────────────────────────────────

/**
 * Anthropic's input_tokens leave out cache reads and cache writes, which it
 * reports apart; the neutral input is all three together. input_tokens and
 * output_tokens come with every usage object; the cache counters are null or
 * absent when nothing was cached.
 */
export function fromAnthropicUsage(usage: unknown): UsageReading | null {
  return readUsage(usage, "usage", (counters) => {
    const cacheRead = counters.optional("cache_read_input_tokens");
    const cacheWrite = counters.optional("cache_creation_input_tokens");
    return {
      inputTokens: counters.required("input_tokens") + cacheRead + cacheWrite,
      cachedInputTokens: cacheRead,
      cacheWriteInputTokens: cacheWrite,
      outputTokens: counters.required("output_tokens"),
      // Thinking tokens are billed as output and not reported apart.
      reasoningTokens: 0,
    };
  });
}

/**
 * Anthropic's stop reasons in the neutral meaning (as Anthropic's SDKs and
 * Vercel's AI SDK read them); one this was written without is `other`, never
 * `stop`: it may be a truncated or filtered answer.
 */
export function mapAnthropicStopReason(reason: unknown): NeutralFinish {
  return { reason: neutralStopReasonOf(reason), vendorReason: vendorFinishReasonOf(reason) };
}

function neutralStopReasonOf(reason: unknown): NeutralFinishReason {
  switch (reason) {
    case "end_turn":
      return "stop";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length";
    case "tool_use":
      return "tool_calls";
    case "stop_sequence":
      return "stop_sequence";
    case "refusal":
      return "refusal";
    default:
      // pause_turn too: a long turn paused for the client to send back, not a finished answer.
      return "other";
  }
}

export function fromAnthropicMessage(body: unknown): NeutralResponse {
  if (!isRecord(body) || body.type !== "message" || !Array.isArray(body.content)) {
    throw new UpstreamAnswerError("the vendor's answer is not an Anthropic message");
  }
  const parts: NeutralOutputPart[] = [];
  for (const block of body.content) {
    if (!isRecord(block)) continue;
    if (block.type === "text" && typeof block.text === "string")
      parts.push({ type: "text", text: block.text });
    else if (block.type === "thinking" && typeof block.thinking === "string") {
      parts.push({ type: "reasoning", text: block.thinking });
    } else if (block.type === "tool_use") {
      parts.push({
        type: "tool_call",
        id: stringOr(block.id, ""),
        name: stringOr(block.name, ""),
        argumentsJson: JSON.stringify(block.input ?? {}),
      });
    }
  }
  const finish = mapAnthropicStopReason(body.stop_reason);
  return {
    id: stringOr(body.id, ""),
    model: stringOr(body.model, ""),
    parts,
    finishReason: finish.reason,
    vendorFinishReason: finish.vendorReason,
    stopSequence: stringOr(body.stop_sequence, null),
    ...usageFieldsOf(fromAnthropicUsage(body.usage)),
  };
}

/** The counters fromAnthropicUsage reads: the only ones a stream's usage halves are merged on. */
const ANTHROPIC_USAGE_COUNTERS = [
  "input_tokens",
  "output_tokens",
  "cache_read_input_tokens",
  "cache_creation_input_tokens",
] as const;

/**
 * Anthropic's SSE stream read into neutral events. Usage comes in two halves:
 * input (and cache) counts in message_start, cumulative output counts in
 * message_delta, which newer answers also repeat the input counts in.
 */
export class AnthropicStreamDecoder implements StreamDecoder {
  private readonly reader = new ServerSentEventReader();
  /** The usage so far: message_start's counters, then each message_delta's that are not null. */
  private usage: unknown = null;
  private started = false;
  private toolCalls = 0;
  /** The neutral tool-call index of each content block that is a tool_use. */
  private readonly toolIndexByBlock = new Map<number, number>();

  push(text: string): NeutralStreamEvent[] {
    return this.reader.push(text).flatMap((frame) => this.decode(frame.data));
  }

  end(): NeutralStreamEvent[] {
    return this.reader.end().flatMap((frame) => this.decode(frame.data));
  }

  private decode(data: string): NeutralStreamEvent[] {
    // The live API pads its JSON with spaces before the closing brace; JSON.parse accepts that.
    const event = parseJsonLeniently(data);
    if (!isRecord(event)) return [];
    switch (event.type) {
      case "message_start": {
        const message = isRecord(event.message) ? event.message : {};
        // A message has one start; a repeated one (frames replayed by a proxy)
        // must not take back the counts a message_delta has raised since.
        if (!this.started) this.mergeUsage(message.usage);
        this.started = true;
        const events: NeutralStreamEvent[] = [
          { type: "start", id: stringOr(message.id, ""), model: stringOr(message.model, "") },
        ];
        pushUsage(events, fromAnthropicUsage(this.usage));
        return events;
      }
      case "content_block_start": {
        const block = isRecord(event.content_block) ? event.content_block : {};
        const blockIndex = numberOr(event.index, 0);
        if (block.type === "tool_use") {
          const index = this.toolCalls++;
          this.toolIndexByBlock.set(blockIndex, index);
          return [
            {
              type: "tool_call_start",
              index,
              id: stringOr(block.id, ""),
              name: stringOr(block.name, ""),
            },
          ];
        }
        if (block.type === "text" && typeof block.text === "string" && block.text !== "") {
          return [{ type: "text_delta", text: block.text }];
        }
        return [];
      }
      case "content_block_delta": {
        const delta = isRecord(event.delta) ? event.delta : {};
        if (delta.type === "text_delta" && typeof delta.text === "string") {
          return delta.text === "" ? [] : [{ type: "text_delta", text: delta.text }];
        }
        if (delta.type === "thinking_delta" && typeof delta.thinking === "string") {
          return [{ type: "reasoning_delta", text: delta.thinking }];
        }
        if (delta.type === "input_json_delta" && typeof delta.partial_json === "string") {
          const index = this.toolIndexByBlock.get(numberOr(event.index, 0));
          if (index === undefined || delta.partial_json === "") return [];
          return [{ type: "tool_call_delta", index, argumentsJson: delta.partial_json }];
        }
        return [];
      }
      case "message_delta": {
        const delta = isRecord(event.delta) ? event.delta : {};
        this.mergeUsage(event.usage);
        const events: NeutralStreamEvent[] = [];
        if (delta.stop_reason != null) {
          const finish = mapAnthropicStopReason(delta.stop_reason);
          events.push({
            type: "finish",
            finishReason: finish.reason,
            vendorReason: finish.vendorReason,
            stopSequence: stringOr(delta.stop_sequence, null),
          });
        }
        pushUsage(events, fromAnthropicUsage(this.usage));
        return events;
      }
      case "error": {
        const error = isRecord(event.error) ? event.error : {};
        return [
          {
            type: "error",
            message: stringOr(error.message, "the vendor's stream failed"),
            vendorType: stringOr(error.type, null),
          },
        ];
      }
      default:
        // ping, content_block_stop, message_stop, and types added after this was written.
        return [];
    }
  }

  /**
   * Counts are totals for the whole message: a later one replaces an earlier
   * one, never adds to it. A null or absent counter says nothing (the SDK
   * types message_delta's input counters `number | null` and skips nulls), so
   * it keeps message_start's count instead of wiping it to 0; any other value
   * replaces it, a bad one included, for the contract to refuse.
   */
  private mergeUsage(usage: unknown): void {
    if (usage === undefined || usage === null) return;
    if (!isRecord(usage)) {
      // Not an object at all: kept as it came, for the contract to refuse.
      this.usage = usage;
      return;
    }
    const merged: Record<string, unknown> = isRecord(this.usage) ? this.usage : {};
    for (const counter of ANTHROPIC_USAGE_COUNTERS) {
      const value = Object.hasOwn(usage, counter) ? usage[counter] : undefined;
      if (value !== undefined && value !== null) merged[counter] = value;
    }
    this.usage = merged;
  }
}

// ── Errors ────────────────────────────────────────────────────────────────────────────────

export function mapAnthropicError(
  status: number,
  body: string,
  headers: IncomingHttpHeaders,
): AttemptFailure {
  const parsed = parseJsonLeniently(body);
  const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : null;
  const vendorType = error ? stringOr(error.type, null) : null;
  const failure = failureFromStatus(
    status,
    { message: error ? stringOr(error.message, null) : body.slice(0, 300) || null, vendorType },
    retryAfterSecondsOf(headers["retry-after"]),
  );
  // Anthropic says so when it is overloaded, whatever the status (usually 529).
  if (vendorType === "overloaded_error") {
    return { ...failure, code: "upstream_overloaded", errorClass: "server_error", retryable: true };
  }
  return failure;
}
