// Google Gemini's Generative Language API (v1beta): `models/{model}:generateContent`
// and `:streamGenerateContent?alt=sse`, whose every SSE frame is a whole
// GenerateContentResponse carrying the usage so far.
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
  parseJsonLeniently,
  type StreamDecoder,
  stringOr,
  type VendorAdapter,
  vendorFinishReasonOf,
} from "./adapter.ts";
import { ServerSentEventReader } from "./server-sent-events.ts";
import { pushUsage, readUsage, usageFieldsOf } from "./usage-contract.ts";

type GeminiVendorConfig = Extract<VendorConfig, { protocol: "gemini" }>;

export function createGeminiAdapter(
  _config: GeminiVendorConfig,
  apiKey: string | undefined,
): VendorAdapter {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (apiKey) headers["x-goog-api-key"] = apiKey;
  return {
    protocol: "gemini",
    providerName: "gcp.gemini",
    toChatRequest(request, model) {
      const warnings: string[] = [];
      const body = toGeminiRequest(request, warnings);
      const method = request.stream ? "streamGenerateContent?alt=sse" : "generateContent";
      return {
        method: "POST",
        path: `/models/${encodeURIComponent(model)}:${method}`,
        headers,
        body: JSON.stringify(body),
        warnings,
      };
    },
    fromChatResponse: fromGeminiResponse,
    createStreamDecoder: () => new GeminiStreamDecoder(),
    fromUsage: fromGeminiUsage,
    mapError: mapGeminiError,
  };
}

// ── Requests ──────────────────────────────────────────────────────────────────────────────

export function toGeminiRequest(
  request: NeutralRequest,
  warnings: string[],
): Record<string, unknown> {
  // Gemini answers a function call by name, not by call id: remember the names.
  const toolNameById = new Map<string, string>();
  for (const message of request.messages) {
    for (const part of message.parts)
      if (part.type === "tool_call") toolNameById.set(part.id, part.name);
  }
  const body: Record<string, unknown> = {
    contents: request.messages.map((message) => toGeminiContent(message, toolNameById)),
  };
  if (request.system.length > 0) {
    body.systemInstruction = { parts: request.system.map((part) => ({ text: part.text })) };
  }
  const cacheControlSeen =
    request.system.some((part) => part.cacheControl) ||
    request.tools.some((tool) => tool.cacheControl) ||
    request.messages.some((message) =>
      message.parts.some((part) => "cacheControl" in part && part.cacheControl),
    );
  if (cacheControlSeen) {
    warnings.push(
      "cache_control has no effect on Gemini, which caches implicitly or through cachedContents",
    );
  }
  if (request.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: request.tools.map((tool) => ({
          name: tool.name,
          ...(tool.description !== undefined ? { description: tool.description } : {}),
          parametersJsonSchema: tool.parameters,
        })),
      },
    ];
  }
  if (request.toolChoice) {
    const choice = request.toolChoice;
    body.toolConfig = {
      functionCallingConfig:
        choice.type === "tool"
          ? { mode: "ANY", allowedFunctionNames: [choice.name] }
          : { mode: choice.type === "required" ? "ANY" : choice.type === "none" ? "NONE" : "AUTO" },
    };
  }
  if (request.parallelToolCalls === false) {
    warnings.push("Gemini cannot forbid parallel function calls; parallel_tool_calls was not sent");
  }
  const generationConfig: Record<string, unknown> = {};
  if (request.maxOutputTokens !== undefined)
    generationConfig.maxOutputTokens = request.maxOutputTokens;
  if (request.temperature !== undefined) generationConfig.temperature = request.temperature;
  if (request.topP !== undefined) generationConfig.topP = request.topP;
  if (request.topK !== undefined) generationConfig.topK = request.topK;
  if (request.stopSequences !== undefined) generationConfig.stopSequences = request.stopSequences;
  const format = request.responseFormat;
  if (format?.type === "json_object") generationConfig.responseMimeType = "application/json";
  if (format?.type === "json_schema") {
    generationConfig.responseMimeType = "application/json";
    generationConfig.responseJsonSchema = format.schema;
  }
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  if (request.user !== undefined) warnings.push("Gemini takes no end-user id; 'user' was not sent");
  if (request.metadata !== undefined)
    warnings.push("Gemini does not take OpenAI's 'metadata'; it was not sent");
  for (const field of Object.keys(request.passthrough)) {
    warnings.push(`'${field}' is not part of Gemini's API; it was not sent`);
  }
  return body;
}

function toGeminiContent(message: NeutralMessage, toolNameById: Map<string, string>) {
  return {
    role: message.role === "assistant" ? "model" : "user",
    parts: message.parts.flatMap((part) => toGeminiParts(part, toolNameById)),
  };
}

function toGeminiParts(
  part: NeutralPart,
  toolNameById: Map<string, string>,
): Record<string, unknown>[] {
  switch (part.type) {
    case "text":
      return [{ text: part.text }];
    case "image":
      return part.source.kind === "url"
        ? [{ fileData: { fileUri: part.source.url } }]
        : [{ inlineData: { mimeType: part.source.mediaType, data: part.source.data } }];
    case "tool_call": {
      const args = parseJsonLeniently(part.argumentsJson);
      return [{ functionCall: { name: part.name, args: isRecord(args) ? args : {} } }];
    }
    case "tool_result": {
      // Gemini wants an object; a tool's JSON answer is used as it is, text is wrapped.
      const parsed = parseJsonLeniently(part.content);
      const response = isRecord(parsed)
        ? parsed
        : { [part.isError ? "error" : "result"]: part.content };
      return [
        {
          functionResponse: {
            name: toolNameById.get(part.toolCallId) ?? part.toolCallId,
            response,
          },
        },
      ];
    }
  }
}

// ── Answers ───────────────────────────────────────────────────────────────────────────────

/**
 * Gemini's promptTokenCount already includes cachedContentTokenCount, and
 * thoughtsTokenCount is reported apart from candidatesTokenCount though both
 * are billed as output; tool-use prompt tokens are billed as input. Only
 * promptTokenCount comes with every usageMetadata: the others are left out
 * when zero (candidatesTokenCount too, before anything was generated).
 */
export function fromGeminiUsage(usage: unknown): UsageReading | null {
  return readUsage(usage, "usageMetadata", (counters) => {
    const thoughts = counters.optional("thoughtsTokenCount");
    return {
      inputTokens:
        counters.required("promptTokenCount") + counters.optional("toolUsePromptTokenCount"),
      cachedInputTokens: counters.optional("cachedContentTokenCount"),
      cacheWriteInputTokens: 0,
      outputTokens: counters.optional("candidatesTokenCount") + thoughts,
      reasoningTokens: thoughts,
    };
  });
}

/**
 * Gemini's finish reasons in the neutral meaning (as Google's SDK and
 * Vercel's AI SDK read them). Function calls make a finished answer
 * `tool_calls`; they do not hide a cut or a filtered one. A reason this was
 * written without (OTHER, FINISH_REASON_UNSPECIFIED, LANGUAGE, newer ones) is
 * `other`, never `stop`.
 */
export function mapGeminiFinishReason(reason: unknown, calledFunctions: boolean): NeutralFinish {
  return {
    reason: neutralFinishReasonOf(reason, calledFunctions),
    vendorReason: vendorFinishReasonOf(reason),
  };
}

function neutralFinishReasonOf(reason: unknown, calledFunctions: boolean): NeutralFinishReason {
  switch (reason) {
    case "STOP":
      return calledFunctions ? "tool_calls" : "stop";
    case "MAX_TOKENS":
      return "length";
    case "SAFETY":
    case "RECITATION":
    case "BLOCKLIST":
    case "PROHIBITED_CONTENT":
    case "SPII":
    case "IMAGE_SAFETY":
      return "content_filter";
    case "MALFORMED_FUNCTION_CALL":
      return "error";
    default:
      return "other";
  }
}

/** The parts of a response's first candidate, with function calls given ids Gemini may not send. */
function candidateParts(body: Record<string, unknown>, callIdPrefix: string, firstCall: number) {
  const candidate =
    Array.isArray(body.candidates) && isRecord(body.candidates[0]) ? body.candidates[0] : null;
  const content = candidate && isRecord(candidate.content) ? candidate.content : {};
  const parts: NeutralOutputPart[] = [];
  let calls = firstCall;
  for (const part of Array.isArray(content.parts) ? content.parts : []) {
    if (!isRecord(part)) continue;
    if (typeof part.text === "string") {
      if (part.text !== "")
        parts.push({ type: part.thought === true ? "reasoning" : "text", text: part.text });
    } else if (isRecord(part.functionCall)) {
      const call = part.functionCall;
      parts.push({
        type: "tool_call",
        id: stringOr(call.id, `${callIdPrefix}${calls}`),
        name: stringOr(call.name, ""),
        argumentsJson: JSON.stringify(call.args ?? {}),
      });
      calls += 1;
    }
  }
  return { candidate, parts };
}

export function fromGeminiResponse(body: unknown): NeutralResponse {
  if (!isRecord(body) || (!Array.isArray(body.candidates) && !isRecord(body.promptFeedback))) {
    throw new UpstreamAnswerError("the vendor's answer is not a GenerateContentResponse");
  }
  const id = stringOr(body.responseId, "");
  const { candidate, parts } = candidateParts(body, callIdPrefixOf(id), 0);
  const calledFunctions = parts.some((part) => part.type === "tool_call");
  const finish =
    blockedPromptOf(body, candidate) ??
    mapGeminiFinishReason(candidate?.finishReason, calledFunctions);
  return {
    id,
    model: stringOr(body.modelVersion, ""),
    parts,
    finishReason: finish.reason,
    vendorFinishReason: finish.vendorReason,
    ...usageFieldsOf(fromGeminiUsage(body.usageMetadata)),
  };
}

/** A prompt blocked outright has no candidate, only promptFeedback.blockReason: filtered. */
function blockedPromptOf(
  body: Record<string, unknown>,
  candidate: Record<string, unknown> | null,
): NeutralFinish | null {
  if (candidate || !isRecord(body.promptFeedback) || !body.promptFeedback.blockReason) return null;
  return {
    reason: "content_filter",
    vendorReason: vendorFinishReasonOf(body.promptFeedback.blockReason),
  };
}

function callIdPrefixOf(responseId: string): string {
  return `call_${responseId.replace(/[^a-zA-Z0-9_-]/g, "") || "gemini"}_`;
}

/** Gemini's SSE stream (each frame a whole response chunk) read into neutral events. */
export class GeminiStreamDecoder implements StreamDecoder {
  private readonly reader = new ServerSentEventReader();
  private started = false;
  private toolCalls = 0;
  private callIdPrefix = "call_gemini_";
  /** The text since the last blank line: where an unframed error envelope would be. */
  private sinceLastFrame = "";

  push(text: string): NeutralStreamEvent[] {
    this.sinceLastFrame += text;
    const boundary = this.sinceLastFrame.lastIndexOf("\n\n");
    if (boundary !== -1) this.sinceLastFrame = this.sinceLastFrame.slice(boundary + 2);
    return this.reader.push(text).flatMap((frame) => this.decode(frame.data));
  }

  end(): NeutralStreamEvent[] {
    const events = this.reader.end().flatMap((frame) => this.decode(frame.data));
    // Google ends a stream that fails midway with its error envelope as bare JSON,
    // outside any `data:` line (vertexai/streaming-failure-error-mid-stream.txt).
    const trailing = this.sinceLastFrame.trim();
    if (trailing.startsWith("{")) events.push(...this.decode(trailing));
    return events;
  }

  private decode(data: string): NeutralStreamEvent[] {
    const chunk = parseJsonLeniently(data);
    if (!isRecord(chunk)) return [];
    if (isRecord(chunk.error)) {
      return [
        {
          type: "error",
          message: stringOr(chunk.error.message, "the vendor's stream failed"),
          vendorType: stringOr(chunk.error.status, null),
        },
      ];
    }
    const events: NeutralStreamEvent[] = [];
    if (!this.started) {
      this.started = true;
      const id = stringOr(chunk.responseId, "");
      this.callIdPrefix = callIdPrefixOf(id);
      events.push({ type: "start", id, model: stringOr(chunk.modelVersion, "") });
    }
    const { candidate, parts } = candidateParts(chunk, this.callIdPrefix, this.toolCalls);
    for (const part of parts) {
      if (part.type === "text") events.push({ type: "text_delta", text: part.text });
      else if (part.type === "reasoning") events.push({ type: "reasoning_delta", text: part.text });
      else {
        // Gemini sends each call whole, in one chunk.
        const index = this.toolCalls++;
        events.push({ type: "tool_call_start", index, id: part.id, name: part.name });
        events.push({ type: "tool_call_delta", index, argumentsJson: part.argumentsJson });
      }
    }
    const finish =
      candidate && candidate.finishReason != null
        ? mapGeminiFinishReason(candidate.finishReason, this.toolCalls > 0)
        : blockedPromptOf(chunk, candidate);
    if (finish) {
      events.push({
        type: "finish",
        finishReason: finish.reason,
        vendorReason: finish.vendorReason,
      });
    }
    pushUsage(events, fromGeminiUsage(chunk.usageMetadata));
    return events;
  }
}

// ── Errors ────────────────────────────────────────────────────────────────────────────────

/** Google's RPC error envelope, `{error: {code, message, status, details}}`. */
export function mapGeminiError(
  status: number,
  body: string,
  headers: IncomingHttpHeaders,
): AttemptFailure {
  const parsed = parseJsonLeniently(body);
  const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : null;
  const reasons =
    error && Array.isArray(error.details)
      ? error.details.flatMap((detail) =>
          isRecord(detail) && typeof detail.reason === "string" ? [detail.reason] : [],
        )
      : [];
  const failure = failureFromStatus(
    status,
    {
      message: error ? stringOr(error.message, null) : body.slice(0, 300) || null,
      vendorType: error ? stringOr(error.status, null) : null,
    },
    retryAfterSecondsOf(headers["retry-after"]),
  );
  // Google answers a bad key with 400 INVALID_ARGUMENT: the gateway's key, not the client's request.
  if (reasons.includes("API_KEY_INVALID")) {
    return { ...failure, code: "upstream_auth_failed", retryable: true };
  }
  return failure;
}
