// The gateway's one protocol-neutral model of a chat call: what an inbound API
// (OpenAI Chat Completions, Anthropic Messages) reads a client's request into,
// what a vendor adapter writes to its upstream, and what comes back, whole or
// as a stream of events. Each inbound API and each vendor adapter translates
// to and from this model only, never to another protocol directly, so N
// inbound APIs and M vendors need N + M translations, not N × M.
import type { FinishReason } from "../events/schemas.ts";

/** Opaque vendor hints that travel with a part untouched (Anthropic's `cache_control`). */
export type CacheControl = Record<string, unknown>;

export type NeutralPart =
  | { type: "text"; text: string; cacheControl?: CacheControl }
  | {
      type: "image";
      /** An http(s) URL, or the bytes as base64 with their media type. */
      source: { kind: "url"; url: string } | { kind: "base64"; mediaType: string; data: string };
      cacheControl?: CacheControl;
    }
  | { type: "tool_call"; id: string; name: string; argumentsJson: string }
  | {
      type: "tool_result";
      toolCallId: string;
      /** Tool results are text (or text parts) in every protocol spoken here. */
      content: string;
      isError: boolean;
      cacheControl?: CacheControl;
    };

export interface NeutralMessage {
  role: "user" | "assistant";
  parts: NeutralPart[];
}

export interface NeutralTool {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
  strict?: boolean;
  cacheControl?: CacheControl;
}

export type NeutralToolChoice =
  | { type: "auto" }
  | { type: "none" }
  | { type: "required" }
  | { type: "tool"; name: string };

export type NeutralResponseFormat =
  | { type: "text" }
  | { type: "json_object" }
  | { type: "json_schema"; name: string; schema: Record<string, unknown>; strict?: boolean };

export type InboundProtocol = "openai" | "anthropic";

export interface NeutralRequest {
  /** The model name the client sent (a route); adapters write the routed vendor model. */
  model: string;
  system: Extract<NeutralPart, { type: "text" }>[];
  messages: NeutralMessage[];
  tools: NeutralTool[];
  toolChoice?: NeutralToolChoice;
  parallelToolCalls?: boolean;
  maxOutputTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stopSequences?: string[];
  responseFormat?: NeutralResponseFormat;
  stream: boolean;
  /** An end-user id for the vendor's abuse monitoring (OpenAI `user`, Anthropic `metadata.user_id`). */
  user?: string;
  /** OpenAI's `metadata` (string pairs); no other vendor here takes it. */
  metadata?: Record<string, string>;
  /** Where the request came from, so same-protocol vendors get the client's unknown fields. */
  inbound: InboundProtocol;
  /** The client's fields this model does not carry, for vendors of the inbound protocol. */
  passthrough: Record<string, unknown>;
}

/**
 * Token usage in one meaning for every vendor. `inputTokens` is the whole
 * prompt, cache reads and cache writes included (OpenAI's `prompt_tokens`
 * meaning); `outputTokens` is everything generated, reasoning included
 * (OpenAI's `completion_tokens` meaning). The other three are parts of those.
 */
export interface NormalizedUsage {
  inputTokens: number;
  /** Prompt tokens read from the vendor's cache; part of inputTokens. */
  cachedInputTokens: number;
  /** Prompt tokens written to the vendor's cache (Anthropic); part of inputTokens. */
  cacheWriteInputTokens: number;
  outputTokens: number;
  /** Hidden reasoning ("thinking") tokens; part of outputTokens. */
  reasoningTokens: number;
}

/**
 * A vendor's usage outside the contract (vendors/usage-contract.ts): never
 * billed, always recorded, as estimated usage and a `usage_rejected` warning.
 */
export interface UsageRejection {
  /**
   * The vendor's field as a path in its answer (`usage.prompt_tokens`), or the
   * event's column (`input_tokens`) when a total or a part is out of bounds.
   * Always a name the adapters look up, never text from the answer.
   */
  field: string;
  /** The value received, as a warning may show it (renderVendorValue). */
  value: string;
  /** Why it is outside the contract: `negative`, `not a whole number`, … */
  reason: string;
}

/** What an adapter read of a vendor's usage object; null where one is expected means none came. */
export type UsageReading =
  | { kind: "reported"; usage: NormalizedUsage }
  | { kind: "rejected"; rejection: UsageRejection };

export const NO_USAGE: NormalizedUsage = Object.freeze({
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteInputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

/**
 * How an answer ended, in one meaning for every vendor (the event's
 * `finish_reason`). `other`: a reason the adapter does not know, never passed
 * off as `stop`; the vendor's own word travels beside it.
 */
export type NeutralFinishReason = FinishReason;

/** How an answer ended: in the neutral meaning, and in the vendor's word (vendorFinishReasonOf). */
export interface NeutralFinish {
  reason: NeutralFinishReason;
  vendorReason: string | null;
}

export type NeutralOutputPart =
  | { type: "text"; text: string }
  | { type: "reasoning"; text: string }
  | { type: "tool_call"; id: string; name: string; argumentsJson: string };

export interface NeutralResponse {
  id: string;
  model: string;
  parts: NeutralOutputPart[];
  finishReason: NeutralFinishReason;
  /** The vendor's own finish reason as it sent it (vendorFinishReasonOf), null when it sent none. */
  vendorFinishReason?: string | null;
  /** The stop sequence that ended the answer, when the vendor says which. */
  stopSequence?: string | null;
  /** Null when the vendor reported none, or reported usage outside the contract (then usageRejection). */
  usage: NormalizedUsage | null;
  usageRejection?: UsageRejection | null;
}

/**
 * One step of a streamed answer. Tool calls are numbered by `index` in the
 * order they start; argument fragments follow their start.
 */
export type NeutralStreamEvent =
  | { type: "start"; id: string; model: string }
  | { type: "text_delta"; text: string }
  | { type: "reasoning_delta"; text: string }
  | { type: "tool_call_start"; index: number; id: string; name: string }
  | { type: "tool_call_delta"; index: number; argumentsJson: string }
  | {
      type: "finish";
      finishReason: NeutralFinishReason;
      /** The vendor's own reason (vendorFinishReasonOf). */
      vendorReason?: string | null;
      stopSequence?: string | null;
    }
  /** Usage so far: every vendor here reports running totals, so the last one wins. */
  | { type: "usage"; usage: NormalizedUsage }
  /** Usage so far that broke the contract; like `usage`, a later one replaces it. */
  | { type: "usage_rejected"; rejection: UsageRejection }
  | { type: "error"; message: string; vendorType: string | null };

/** The text of a message's text parts, joined; what estimates and simple vendors read. */
export function textOf(parts: readonly NeutralPart[]): string {
  let text = "";
  for (const part of parts) {
    if (part.type === "text") text += part.text;
    else if (part.type === "tool_result") text += part.content;
    else if (part.type === "tool_call") text += part.argumentsJson;
  }
  return text;
}

/** The visible text and tool arguments of an answer; what an estimate counts. */
export function outputTextOf(parts: readonly NeutralOutputPart[]): string {
  let text = "";
  for (const part of parts) {
    if (part.type === "text" || part.type === "reasoning") text += part.text;
    else text += part.argumentsJson;
  }
  return text;
}

/**
 * Adds a message, joining it to the previous one when both have the same role:
 * Anthropic and Gemini want roles to alternate, and OpenAI sends each tool
 * result as a message of its own.
 */
export function appendMessage(messages: NeutralMessage[], message: NeutralMessage): void {
  const previous = messages.at(-1);
  if (previous && previous.role === message.role) previous.parts.push(...message.parts);
  else messages.push(message);
}
