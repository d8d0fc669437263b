// The port every vendor's wire protocol implements. One adapter instance per
// configured vendor: it knows the vendor's paths, its way of carrying the key,
// and how to translate the neutral model (../neutral.ts) to its requests and
// back. Adapters never touch the network; upstream.ts sends what they build.
import type { IncomingHttpHeaders } from "node:http";
import type { AttemptFailure } from "../failures.ts";
import type {
  InboundProtocol,
  NeutralFinish,
  NeutralRequest,
  NeutralResponse,
  NeutralStreamEvent,
  UsageReading,
} from "../neutral.ts";

/** An HTTP request to a vendor, relative to its configured base URL. */
export interface UpstreamRequest {
  method: "POST";
  /** Path and query string, appended to the base URL's path. */
  path: string;
  headers: Record<string, string>;
  body: string;
  /**
   * Parameters this vendor cannot honour, each a sentence. They reach the
   * client in `x-switchboard-warnings`: a dropped parameter is never silent.
   */
  warnings: string[];
}

/** Turns a vendor's streamed answer, as text in arbitrary slices, into neutral events. */
export interface StreamDecoder {
  push(text: string): NeutralStreamEvent[];
  /** The upstream body ended; whatever is still pending. */
  end(): NeutralStreamEvent[];
}

/**
 * A client request in its own protocol, sent up nearly as it came: same
 * protocol on both sides, so nothing needs translating and the client's
 * unknown fields survive. The answer goes back byte for byte.
 */
export interface PassThrough {
  readonly protocol: InboundProtocol;
  toChatRequest(
    clientBody: Record<string, unknown>,
    model: string,
    clientHeaders?: IncomingHttpHeaders,
  ): UpstreamRequest;
  /** True for a streamed frame only the gateway asked for (OpenAI's usage-only chunk). */
  isGatewayOnlyFrame?(parsedFrame: unknown, clientWantsUsage: boolean): boolean;
  /** How a whole answer, relayed untranslated, ended; read without translating the rest. */
  finishOf(answer: unknown): NeutralFinish;
}

/** OpenAI's embeddings API, which every vendor here that embeds speaks; the answer goes back as it came. */
export interface EmbeddingsCapability {
  toRequest(clientBody: Record<string, unknown>, model: string): UpstreamRequest;
}

export interface VendorAdapter {
  /** The configured protocol (`anthropic`, `groq`, `azure-openai`, …). */
  readonly protocol: string;
  /** The OpenTelemetry `gen_ai.provider.name` of the wire protocol spoken. */
  readonly providerName: string;
  toChatRequest(request: NeutralRequest, model: string): UpstreamRequest;
  /** A whole answer read into the neutral shape; throws UpstreamAnswerError when it is not one. */
  fromChatResponse(body: unknown): NeutralResponse;
  createStreamDecoder(): StreamDecoder;
  /**
   * The vendor's usage object read under the usage contract
   * (usage-contract.ts): the neutral usage, or why it was rejected; null when
   * the vendor sent none.
   */
  fromUsage(usage: unknown): UsageReading | null;
  /** A vendor's HTTP error mapped to a stable code, with whether another candidate may answer. */
  mapError(status: number, body: string, headers: IncomingHttpHeaders): AttemptFailure;
  /**
   * The vendor's own word for the service tier that served a whole answer
   * (service-tier.ts reads it), or null when it names none; absent for a
   * protocol whose answers never do.
   */
  serviceTierOf?(answer: unknown): string | null;
  readonly passThrough?: PassThrough;
  readonly embeddings?: EmbeddingsCapability;
}

/** Reads a JSON error body without trusting its shape. */
export function parseJsonLeniently(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

export function stringOr<T>(value: unknown, fallback: T): string | T {
  return typeof value === "string" ? value : fallback;
}

/** The longest vendor finish reason kept (the event's `vendor_finish_reason`). */
const MAX_VENDOR_FINISH_REASON_LENGTH = 64;
/** Every vendor's finish reasons are words like these; anything else is recorded by its kind. */
const FINISH_REASON_WORD = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * A vendor's finish reason as the event keeps it: the word it sent, or, for
 * anything that is not a short word (a vendor echoing text there), only its
 * kind, so no answer text reaches the ledger. Null when it sent none.
 */
export function vendorFinishReasonOf(reason: unknown): string | null {
  if (reason === undefined || reason === null) return null;
  if (typeof reason === "string") {
    return FINISH_REASON_WORD.test(reason)
      ? reason
      : `(a string of ${reason.length} characters)`.slice(0, MAX_VENDOR_FINISH_REASON_LENGTH);
  }
  if (typeof reason === "number" || typeof reason === "boolean") {
    return `(${typeof reason} ${String(reason).slice(0, 32)})`;
  }
  return Array.isArray(reason) ? "(an array)" : "(an object)";
}
