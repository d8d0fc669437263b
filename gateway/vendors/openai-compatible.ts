// OpenAI's Chat Completions wire protocol, spoken by OpenAI, by Azure OpenAI
// (azure-openai.ts: other paths and key header) and by the OpenAI-compatible
// family (openai-compatible-presets.ts: DeepSeek, Mistral, Qwen, xAI, Groq,
// Together, vLLM, Ollama), each with its small differences declared.
import type { IncomingHttpHeaders } from "node:http";
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
  type VendorAdapter,
  vendorFinishReasonOf,
} from "./adapter.ts";
import type { OpenAIDialect } from "./openai-compatible-presets.ts";
import { ServerSentEventReader } from "./server-sent-events.ts";
import { pushUsage, readUsage, usageFieldsOf } from "./usage-contract.ts";

/** Where a vendor of the family takes its calls, and how it wants the key. */
export interface OpenAIEndpoints {
  chatPath(model: string): string;
  embeddingsPath(model: string): string;
  headers: Record<string, string>;
}

export function bearerEndpoints(apiKey: string | undefined): OpenAIEndpoints {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return {
    chatPath: () => "/chat/completions",
    embeddingsPath: () => "/embeddings",
    headers,
  };
}

export function createOpenAICompatibleAdapter(options: {
  protocol: string;
  dialect: OpenAIDialect;
  endpoints: OpenAIEndpoints;
}): VendorAdapter {
  const { protocol, dialect, endpoints } = options;

  /** The body as this vendor takes it: dialect differences applied, each drop a warning. */
  function finishBody(body: Record<string, unknown>, warnings: string[]): string {
    for (const parameter of dialect.unsupportedParameters) {
      if (body[parameter] !== undefined) {
        delete body[parameter];
        warnings.push(`${protocol} does not support '${parameter}'; it was not sent`);
      }
    }
    if (dialect.maxTokensField === "max_tokens" && body.max_completion_tokens != null) {
      body.max_tokens ??= body.max_completion_tokens;
      delete body.max_completion_tokens;
    }
    if (body.stream === true) {
      if (dialect.streamUsage === "stream_options") {
        // Every cost is computed from usage, so it is always asked for; whether
        // the client sees the usage chunk is decided on the way back.
        const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
        body.stream_options = { ...streamOptions, include_usage: true };
      } else {
        delete body.stream_options;
      }
    } else {
      delete body.stream_options;
    }
    return JSON.stringify(body);
  }

  const adapter: VendorAdapter = {
    protocol,
    providerName: protocol === "azure-openai" ? "azure.ai.openai" : protocol,

    toChatRequest(request, model) {
      const warnings: string[] = [];
      const body = toOpenAIChatBody(request, model, dialect, warnings);
      return {
        method: "POST",
        path: endpoints.chatPath(model),
        headers: endpoints.headers,
        body: finishBody(body, warnings),
        warnings,
      };
    },

    fromChatResponse: fromOpenAIChatCompletion,
    createStreamDecoder: () => new OpenAIStreamDecoder(),
    fromUsage: fromOpenAIUsage,
    mapError: mapOpenAIError,
    // `service_tier` beside the choices: default, flex, priority, scale.
    serviceTierOf: (answer) => {
      const word = (answer as { service_tier?: unknown } | null)?.service_tier;
      return typeof word === "string" ? word : null;
    },

    passThrough: {
      protocol: "openai",
      toChatRequest(clientBody, model) {
        const warnings: string[] = [];
        const body = finishBody({ ...clientBody, model }, warnings);
        return {
          method: "POST",
          path: endpoints.chatPath(model),
          headers: endpoints.headers,
          body,
          warnings,
        };
      },
      isGatewayOnlyFrame(frame, clientWantsUsage) {
        return !clientWantsUsage && isRecord(frame) && isUsageOnlyChunk(frame);
      },
      finishOf: (answer) => mapOpenAIFinishReason(firstChoiceOf(answer)?.finish_reason),
    },
  };
  if (dialect.embeddings) {
    return {
      ...adapter,
      embeddings: {
        toRequest(clientBody, model) {
          const warnings: string[] = [];
          const body: Record<string, unknown> = { ...clientBody, model };
          for (const parameter of dialect.unsupportedParameters) {
            if (body[parameter] !== undefined) {
              delete body[parameter];
              warnings.push(`${protocol} does not support '${parameter}'; it was not sent`);
            }
          }
          return {
            method: "POST",
            path: endpoints.embeddingsPath(model),
            headers: endpoints.headers,
            body: JSON.stringify(body),
            warnings,
          };
        },
      },
    };
  }
  return adapter;
}

// ── Requests ──────────────────────────────────────────────────────────────────────────────

/** The neutral request as an OpenAI chat body (before dialect differences). */
export function toOpenAIChatBody(
  request: NeutralRequest,
  model: string,
  dialect: OpenAIDialect,
  warnings: string[],
): Record<string, unknown> {
  const messages: Record<string, unknown>[] = [];
  if (request.system.length > 0) {
    messages.push({
      role: "system",
      content: request.system.map((part) => part.text).join("\n\n"),
    });
  }
  let cacheControlSeen = request.system.some((part) => part.cacheControl !== undefined);
  for (const message of request.messages) {
    cacheControlSeen ||= message.parts.some((part) => "cacheControl" in part && part.cacheControl);
    messages.push(...toOpenAIMessages(message));
  }
  cacheControlSeen ||= request.tools.some((tool) => tool.cacheControl !== undefined);
  if (cacheControlSeen) {
    warnings.push(
      "cache_control has no effect on OpenAI-protocol vendors, which cache prompts themselves",
    );
  }
  const body: Record<string, unknown> = { model, messages };
  if (request.tools.length > 0) {
    body.tools = request.tools.map((tool) => ({
      type: "function",
      function: {
        name: tool.name,
        ...(tool.description !== undefined ? { description: tool.description } : {}),
        parameters: tool.parameters,
        ...(tool.strict !== undefined ? { strict: tool.strict } : {}),
      },
    }));
  }
  if (request.toolChoice) {
    body.tool_choice =
      request.toolChoice.type === "tool"
        ? { type: "function", function: { name: request.toolChoice.name } }
        : request.toolChoice.type;
  }
  if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  if (request.maxOutputTokens !== undefined) {
    body[dialect.maxTokensField === "max_tokens" ? "max_tokens" : "max_completion_tokens"] =
      request.maxOutputTokens;
  }
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.topP !== undefined) body.top_p = request.topP;
  if (request.topK !== undefined)
    warnings.push("top_k is not part of the OpenAI protocol; it was not sent");
  if (request.stopSequences !== undefined) body.stop = request.stopSequences;
  if (request.responseFormat) {
    const format = request.responseFormat;
    body.response_format =
      format.type === "json_schema"
        ? {
            type: "json_schema",
            json_schema: {
              name: format.name,
              schema: format.schema,
              ...(format.strict !== undefined ? { strict: format.strict } : {}),
            },
          }
        : { type: format.type };
  }
  if (request.user !== undefined) body.user = request.user;
  if (request.metadata !== undefined) body.metadata = request.metadata;
  if (request.stream) body.stream = true;
  for (const [field, value] of Object.entries(request.passthrough)) {
    // An OpenAI client's unknown fields are meant for an OpenAI-protocol vendor.
    if (request.inbound === "openai") body[field] ??= value;
    else warnings.push(`'${field}' is not part of the OpenAI protocol; it was not sent`);
  }
  return body;
}

function toOpenAIMessages(message: NeutralMessage): Record<string, unknown>[] {
  if (message.role === "assistant") {
    const text = message.parts
      .filter((part) => part.type === "text")
      .map((part) => part.text)
      .join("");
    const toolCalls = message.parts
      .filter((part) => part.type === "tool_call")
      .map((part) => ({
        id: part.id,
        type: "function",
        function: { name: part.name, arguments: part.argumentsJson },
      }));
    return [
      {
        role: "assistant",
        content: text === "" && toolCalls.length > 0 ? null : text,
        ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      },
    ];
  }
  // A user turn: tool results become `tool` messages, which OpenAI wants right
  // after the assistant's calls, then whatever else the turn said.
  const messages: Record<string, unknown>[] = [];
  const rest: NeutralPart[] = [];
  for (const part of message.parts) {
    if (part.type === "tool_result") {
      messages.push({ role: "tool", tool_call_id: part.toolCallId, content: part.content });
    } else rest.push(part);
  }
  if (rest.length > 0) messages.push({ role: "user", content: toOpenAIContent(rest) });
  return messages;
}

function toOpenAIContent(parts: NeutralPart[]): string | Record<string, unknown>[] {
  if (parts.length === 1 && parts[0]?.type === "text") return parts[0].text;
  return parts.flatMap((part): Record<string, unknown>[] => {
    if (part.type === "text") return [{ type: "text", text: part.text }];
    if (part.type === "image") {
      const url =
        part.source.kind === "url"
          ? part.source.url
          : `data:${part.source.mediaType};base64,${part.source.data}`;
      return [{ type: "image_url", image_url: { url } }];
    }
    return [];
  });
}

// ── Answers ───────────────────────────────────────────────────────────────────────────────

/**
 * OpenAI's prompt_tokens already include the cached ones; that is the neutral
 * meaning too. prompt_tokens and completion_tokens come with every usage
 * object; the details are absent or null on many compatible vendors.
 */
export function fromOpenAIUsage(usage: unknown): UsageReading | null {
  return readUsage(usage, "usage", (counters) => {
    // DeepSeek reports its cache hits as prompt_cache_hit_tokens instead.
    const cachedInputTokens = counters.has("prompt_tokens_details", "cached_tokens")
      ? counters.optional("prompt_tokens_details", "cached_tokens")
      : counters.optional("prompt_cache_hit_tokens");
    return {
      inputTokens: counters.required("prompt_tokens"),
      cachedInputTokens,
      cacheWriteInputTokens: 0,
      outputTokens: counters.required("completion_tokens"),
      reasoningTokens: counters.optional("completion_tokens_details", "reasoning_tokens"),
    };
  });
}

/**
 * OpenAI's finish reasons in the neutral meaning (as OpenAI's SDK and
 * Vercel's AI SDK read them), and Mistral's two of its own; one this was
 * written without is `other`, never `stop`.
 */
export function mapOpenAIFinishReason(reason: unknown): NeutralFinish {
  return { reason: neutralFinishReasonOf(reason), vendorReason: vendorFinishReasonOf(reason) };
}

function neutralFinishReasonOf(reason: unknown): NeutralFinishReason {
  switch (reason) {
    case "stop":
      return "stop";
    case "length":
    // Mistral: the context window, not max_tokens, cut the answer.
    case "model_length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    // Mistral: the generation failed midway.
    case "error":
      return "error";
    default:
      return "other";
  }
}

/** The first choice of a chat completion or chunk, or null. */
function firstChoiceOf(body: unknown): Record<string, unknown> | null {
  if (!isRecord(body) || !Array.isArray(body.choices)) return null;
  const choice = body.choices[0];
  return isRecord(choice) ? choice : null;
}

export function fromOpenAIChatCompletion(body: unknown): NeutralResponse {
  if (!isRecord(body) || !Array.isArray(body.choices)) {
    throw new UpstreamAnswerError("the vendor's answer is not a chat.completion");
  }
  const choice = isRecord(body.choices[0]) ? body.choices[0] : {};
  const message = isRecord(choice.message) ? choice.message : {};
  const parts: NeutralOutputPart[] = [];
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === "string" && reasoning !== "")
    parts.push({ type: "reasoning", text: reasoning });
  if (typeof message.content === "string" && message.content !== "") {
    parts.push({ type: "text", text: message.content });
  }
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (!isRecord(call) || !isRecord(call.function)) continue;
      parts.push({
        type: "tool_call",
        id: stringOr(call.id, ""),
        name: stringOr(call.function.name, ""),
        argumentsJson: stringOr(call.function.arguments, "{}"),
      });
    }
  }
  const finish = mapOpenAIFinishReason(choice.finish_reason);
  return {
    id: stringOr(body.id, ""),
    model: stringOr(body.model, ""),
    parts,
    finishReason: finish.reason,
    vendorFinishReason: finish.vendorReason,
    ...usageFieldsOf(fromOpenAIUsage(body.usage)),
  };
}

/** True for the extra chunk that carries only usage (sent when include_usage is on). */
export function isUsageOnlyChunk(chunk: Record<string, unknown>): boolean {
  return Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null;
}

/** OpenAI's chunk stream read into neutral events. */
export class OpenAIStreamDecoder implements StreamDecoder {
  private readonly reader = new ServerSentEventReader();
  private started = false;
  private readonly startedToolCalls = new Set<number>();

  push(text: string): NeutralStreamEvent[] {
    return this.reader.push(text).flatMap((frame) => this.decode(frame.data));
  }

  end(): NeutralStreamEvent[] {
    return this.reader.end().flatMap((frame) => this.decode(frame.data));
  }

  private decode(data: string): NeutralStreamEvent[] {
    if (data === "[DONE]") return [];
    const chunk = parseJsonLeniently(data);
    if (!isRecord(chunk)) return [];
    const events: NeutralStreamEvent[] = [];
    if (isRecord(chunk.error)) {
      events.push({
        type: "error",
        message: stringOr(chunk.error.message, "the vendor's stream failed"),
        vendorType: stringOr(chunk.error.type, null),
      });
      return events;
    }
    if (!this.started) {
      this.started = true;
      events.push({ type: "start", id: stringOr(chunk.id, ""), model: stringOr(chunk.model, "") });
    }
    const choice =
      Array.isArray(chunk.choices) && isRecord(chunk.choices[0]) ? chunk.choices[0] : null;
    const delta = choice && isRecord(choice.delta) ? choice.delta : null;
    if (delta) {
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (typeof reasoning === "string" && reasoning !== "") {
        events.push({ type: "reasoning_delta", text: reasoning });
      }
      if (typeof delta.content === "string" && delta.content !== "") {
        events.push({ type: "text_delta", text: delta.content });
      }
      if (Array.isArray(delta.tool_calls)) {
        for (const call of delta.tool_calls) {
          if (!isRecord(call)) continue;
          const index = numberOr(call.index, 0);
          const fn = isRecord(call.function) ? call.function : {};
          if (!this.startedToolCalls.has(index)) {
            this.startedToolCalls.add(index);
            events.push({
              type: "tool_call_start",
              index,
              id: stringOr(call.id, `call_${index}`),
              name: stringOr(fn.name, ""),
            });
          }
          if (typeof fn.arguments === "string" && fn.arguments !== "") {
            events.push({ type: "tool_call_delta", index, argumentsJson: fn.arguments });
          }
        }
      }
    }
    // Null on every chunk but the last of a choice.
    if (choice && choice.finish_reason != null) {
      const finish = mapOpenAIFinishReason(choice.finish_reason);
      events.push({
        type: "finish",
        finishReason: finish.reason,
        vendorReason: finish.vendorReason,
      });
    }
    pushUsage(events, fromOpenAIUsage(chunk.usage));
    return events;
  }
}

// ── Errors ────────────────────────────────────────────────────────────────────────────────

export function mapOpenAIError(
  status: number,
  body: string,
  headers: IncomingHttpHeaders,
): AttemptFailure {
  const parsed = parseJsonLeniently(body);
  const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : null;
  return failureFromStatus(
    status,
    {
      message: error ? stringOr(error.message, null) : body.slice(0, 300) || null,
      vendorType: error ? stringOr(error.code, stringOr(error.type, null)) : null,
      param: error ? stringOr(error.param, null) : null,
    },
    retryAfterSecondsOf(headers["retry-after"]),
  );
}
