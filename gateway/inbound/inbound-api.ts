// The port each inbound API implements: read a client's request in its own
// protocol (strictly), translate it to the neutral model, and write answers,
// streams and errors back in that protocol's exact shape.
import type { IncomingHttpHeaders } from "node:http";
import { z } from "zod";
import { GatewayError } from "../errors.ts";
import type {
  InboundProtocol,
  NeutralRequest,
  NeutralResponse,
  NeutralStreamEvent,
  NormalizedUsage,
} from "../neutral.ts";
import { truncated } from "../reflected-text.ts";

/** A client's request, validated, with its body kept for same-protocol pass-through. */
export interface ParsedChatRequest {
  model: string;
  stream: boolean;
  /** OpenAI's `stream_options.include_usage`; Anthropic streams always carry usage. */
  clientWantsUsage: boolean;
  body: Record<string, unknown>;
}

export interface TranslatedRequest {
  request: NeutralRequest;
  /** What of the client's request the neutral model could not carry, each a sentence. */
  warnings: string[];
}

export interface InboundStreamWriter {
  /** The SSE bytes for one neutral event (possibly none, possibly several frames). */
  write(event: NeutralStreamEvent): string;
  /** The closing frames, with the usage the gateway settled on. */
  end(usage: NormalizedUsage | null): string;
  /** A failure after the stream started, as the protocol's in-stream error. */
  error(error: GatewayError): string;
}

export interface InboundChatApi {
  readonly protocol: InboundProtocol;
  /** The API key the client sent, in this protocol's header. */
  apiKeyOf(headers: IncomingHttpHeaders): string | undefined;
  parse(body: unknown): ParsedChatRequest;
  toNeutral(body: Record<string, unknown>): TranslatedRequest;
  renderResponse(response: NeutralResponse, usage: NormalizedUsage, requestId: string): unknown;
  createStreamWriter(options: {
    requestId: string;
    clientWantsUsage: boolean;
  }): InboundStreamWriter;
  renderError(error: GatewayError): unknown;
}

/**
 * `messages[0].content`, as OpenAI names nested parameters (Anthropic's
 * messages use the same paths). Keys can be the client's own (metadata, a
 * schema's properties), so each is truncated, and so is the whole.
 */
export function formatParameterPath(path: readonly PropertyKey[]): string {
  let param = "";
  for (const key of path) {
    if (typeof key === "number") param += `[${key}]`;
    else {
      const name = truncated(String(key));
      param += param === "" ? name : `.${name}`;
    }
  }
  return truncated(param, MAX_PARAMETER_PATH_LENGTH);
}

/** Room for eight truncated keys and their indexes. */
const MAX_PARAMETER_PATH_LENGTH = 600;

/**
 * The model a client asks for: routed on, quoted in errors, and recorded as
 * request_model, which the events bound at 256 characters.
 */
export const requestedModel = z.string().min(1).max(256);

export function bearerKeyOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim() || undefined;
}

/** Validates a client's body, naming the first offending field (`param`) the way OpenAI does. */
export function parseStrictly<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new GatewayError("invalid_request", "The request body must be a JSON object.");
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new GatewayError("invalid_request", "The request body is invalid.");
  // zod names the field of a bad discriminator (`messages[0].role`) itself.
  const param = issue.path.length > 0 ? formatParameterPath(issue.path) : null;
  throw new GatewayError(
    "invalid_request",
    `Invalid value for '${param ?? "body"}': ${issue.message}`,
    {
      param,
    },
  );
}
