// Streams an upstream answer to the client as it arrives, never buffering it,
// while reading usage, the response model and time to first token from it.
// Three ways, cheapest first:
//   - OpenAI to OpenAI: frames relayed as received; only the usage-only chunk
//     the gateway asked for on its own is held back.
//   - same protocol otherwise (Anthropic to Anthropic): bytes relayed as received.
//   - across protocols: the vendor's frames decoded to neutral events and
//     written in the client's protocol.
import type { ServerResponse } from "node:http";
import { createParser } from "eventsource-parser";
import type { SecretRedactor } from "../eventlog/secret-redactor.ts";
import type { StreamCapture } from "./answer-heuristics.ts";
import { GatewayError } from "./errors.ts";
import { type AttemptFailure, ClientGoneError, failureFromError } from "./failures.ts";
import type { InboundStreamWriter } from "./inbound/inbound-api.ts";
import type {
  NeutralFinish,
  NeutralStreamEvent,
  NormalizedUsage,
  UsageReading,
  UsageRejection,
} from "./neutral.ts";
import { isRecord, type StreamDecoder } from "./vendors/adapter.ts";
import { mapOpenAIFinishReason } from "./vendors/openai-compatible.ts";

export interface RelayedStream {
  /** The vendor's latest usage within the contract; null when none came or the latest broke it. */
  usage: NormalizedUsage | null;
  /** Why the vendor's latest usage was refused (vendors/usage-contract.ts); null when it was not. */
  usageRejection: UsageRejection | null;
  /** How the answer ended, when the vendor said so. */
  finish: NeutralFinish | null;
  responseModel: string | null;
  ttftMs: number | null;
  /** Set when the stream broke after it started: the client already has a 200. */
  failure: AttemptFailure | null;
  /** The generated text and tool arguments, for an estimate when no usage came. */
  outputText: string;
}

/** The upstream answer's body; stream-start.ts hands on what it read ahead. */
export interface UpstreamStream {
  body: AsyncIterable<unknown>;
}

export interface RelayOptions {
  headers: Record<string, string>;
  elapsedMs(): number;
  /** How the client's protocol says "the stream failed" once it has begun. */
  errorFrame(error: GatewayError): string;
  /** Gathers what the answer heuristics read (answer-heuristics.ts), bounded; none: nothing kept. */
  capture?: StreamCapture;
  /**
   * The gateway's vendor keys, kept out of everything written to the client:
   * a vendor may echo its Authorization header in a mid-stream error frame,
   * which pass-through relays as received.
   */
  redactor: SecretRedactor;
}

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  connection: "keep-alive",
};

/**
 * A chunk that may carry what the ledger reads beyond one more token: usage
 * (anything but null, so a malformed one reaches the usage contract too), an
 * error, or a finish reason. Compact JSON and spaced alike.
 */
const NOTABLE_CHUNK = /"usage"\s*:\s*(?!null\b)|"error"|"finish_reason"\s*:\s*(?!null\b)/;
/** Characters of unparsed chunks kept for an estimate before they are read at once. */
const MAX_UNREAD_CHARS = 1 << 20;

/**
 * OpenAI's chunks relayed frame by frame. Parsing every chunk cost about a
 * quarter of a streamed request's CPU (bench/RESULTS.md), and most add one
 * token and nothing else, so a chunk is parsed only when it may matter now:
 * until the first token and the model are known, when it looks notable, or
 * when the heuristics read every chunk. The others are kept unread; should
 * the stream end without usage, they are read then, for the estimate (and at
 * once past MAX_UNREAD_CHARS, so memory stays bounded).
 */
export function relayOpenAIPassThrough(
  upstream: UpstreamStream,
  client: ServerResponse,
  options: RelayOptions & {
    fromUsage(usage: unknown): UsageReading | null;
    isGatewayOnlyFrame(frame: unknown): boolean;
  },
): Promise<RelayedStream> {
  const relayed = newRelayed();
  const capture = options.capture;
  const readsEveryChunk = capture?.readsEveryChunk === true;
  let unread: string[] = [];
  let unreadChars = 0;
  const readUnread = () => {
    for (const data of unread) {
      const chunk = parseChunk(data);
      if (chunk) relayed.outputText += generatedTextOf(chunk) ?? "";
    }
    unread = [];
    unreadChars = 0;
  };
  // The parser's callback writes straight into the bytes for the client, with
  // no list of frames in between.
  let pending = "";
  const parser = createParser({
    onEvent({ data }) {
      if (data === "[DONE]") {
        pending += "data: [DONE]\n\n";
        return;
      }
      const mustRead =
        readsEveryChunk ||
        relayed.ttftMs === null ||
        relayed.responseModel === null ||
        NOTABLE_CHUNK.test(data);
      if (!mustRead) {
        unread.push(data);
        unreadChars += data.length;
        if (unreadChars > MAX_UNREAD_CHARS) readUnread();
        pending += `data: ${data}\n\n`;
        return;
      }
      const chunk = parseChunk(data);
      if (chunk) {
        capture?.openAIChunk(chunk);
        if (isRecord(chunk.error)) {
          relayed.failure = streamFailure(String(chunk.error.message ?? "stream error"), null);
        }
        if (chunk.usage != null) recordUsage(relayed, options.fromUsage(chunk.usage));
        const finishReason = firstChoiceFinishOf(chunk);
        if (finishReason != null) relayed.finish = mapOpenAIFinishReason(finishReason);
        if (relayed.responseModel === null && typeof chunk.model === "string") {
          relayed.responseModel = chunk.model;
        }
        const generated = generatedTextOf(chunk);
        if (generated !== null) {
          relayed.ttftMs ??= options.elapsedMs();
          // Text is only for an estimate when no usage comes; kept in order with the unread.
          if (unread.length > 0) readUnread();
          relayed.outputText += generated;
        }
        if (options.isGatewayOnlyFrame(chunk)) return;
      }
      pending += `data: ${data}\n\n`;
    },
  });
  const relaying = pump(upstream, client, relayed, options, (text) => {
    parser.feed(text);
    const out = pending;
    pending = "";
    return out;
  });
  // Ended or broken without usage: the text so far is the estimate's.
  return relaying.then((done) => {
    if (done.usage === null) readUnread();
    return done;
  });
}

/** The latest usage reading replaces the one before, good or bad: vendors report running totals. */
function recordUsage(relayed: RelayedStream, reading: UsageReading | null): void {
  if (reading === null) return;
  relayed.usage = reading.kind === "reported" ? reading.usage : null;
  relayed.usageRejection = reading.kind === "rejected" ? reading.rejection : null;
}

function firstChoiceFinishOf(chunk: Record<string, unknown>): unknown {
  const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
  return isRecord(choice) ? choice.finish_reason : undefined;
}

function parseChunk(data: string): Record<string, unknown> | null {
  try {
    const chunk: unknown = JSON.parse(data);
    return isRecord(chunk) ? chunk : null;
  } catch {
    return null;
  }
}

/** The upstream bytes relayed untouched, decoded beside for usage and timing. */
export function relayBytes(
  upstream: UpstreamStream,
  client: ServerResponse,
  decoder: StreamDecoder,
  options: RelayOptions,
): Promise<RelayedStream> {
  const relayed = newRelayed();
  return pump(
    upstream,
    client,
    relayed,
    options,
    (text) => {
      observe(decoder.push(text), relayed, options);
      return text;
    },
    () => {
      observe(decoder.end(), relayed, options);
      return undefined;
    },
  );
}

/** The vendor's stream decoded and written again in the client's protocol. */
export async function relayTranslated(
  upstream: UpstreamStream,
  client: ServerResponse,
  decoder: StreamDecoder,
  writer: InboundStreamWriter,
  options: RelayOptions & { settleUsage(relayed: RelayedStream): NormalizedUsage | null },
): Promise<RelayedStream> {
  const relayed = newRelayed();
  const translate = (events: NeutralStreamEvent[]) => {
    observe(events, relayed, options);
    let frames = "";
    for (const event of events) {
      frames += writer.write(event);
      // The vendor's own error event, told in the client's protocol.
      if (event.type === "error" && relayed.failure)
        frames += writer.error(toError(relayed.failure));
    }
    return frames;
  };
  return pump(
    upstream,
    client,
    relayed,
    options,
    (text) => translate(decoder.push(text)),
    () => {
      const frames = translate(decoder.end());
      // The closing frames carry the final usage, estimated if the vendor sent none.
      return relayed.failure ? frames : frames + writer.end(options.settleUsage(relayed));
    },
  );
}

function toError(failure: AttemptFailure): GatewayError {
  return new GatewayError(failure.code, failure.message);
}

function newRelayed(): RelayedStream {
  return {
    usage: null,
    usageRejection: null,
    finish: null,
    responseModel: null,
    ttftMs: null,
    failure: null,
    outputText: "",
  };
}

function observe(
  events: NeutralStreamEvent[],
  relayed: RelayedStream,
  options: RelayOptions,
): void {
  for (const event of events) {
    options.capture?.neutral(event);
    switch (event.type) {
      case "start":
        if (event.model) relayed.responseModel = event.model;
        break;
      case "text_delta":
      case "tool_call_delta":
        relayed.ttftMs ??= options.elapsedMs();
        relayed.outputText += event.type === "text_delta" ? event.text : event.argumentsJson;
        break;
      case "tool_call_start":
      case "reasoning_delta":
        relayed.ttftMs ??= options.elapsedMs();
        break;
      case "usage":
        recordUsage(relayed, { kind: "reported", usage: event.usage });
        break;
      case "usage_rejected":
        recordUsage(relayed, { kind: "rejected", rejection: event.rejection });
        break;
      case "finish":
        relayed.finish = { reason: event.finishReason, vendorReason: event.vendorReason ?? null };
        break;
      case "error":
        relayed.failure = streamFailure(event.message, event.vendorType);
        break;
      default:
        break;
    }
  }
}

/** A vendor's in-stream error: overloaded says so, anything else is a failed stream. */
function streamFailure(message: string, vendorType: string | null): AttemptFailure {
  const overloaded = vendorType === "overloaded_error" || vendorType === "UNAVAILABLE";
  return {
    code: overloaded ? "upstream_overloaded" : "upstream_stream_failed",
    errorClass: "server_error",
    httpStatus: null,
    retryable: false,
    message: `the vendor's stream failed${vendorType ? ` (${vendorType})` : ""}: ${message}`.slice(
      0,
      500,
    ),
  };
}

/** The text and tool arguments a chunk adds, or null when it adds none. */
function generatedTextOf(chunk: Record<string, unknown>): string | null {
  if (!Array.isArray(chunk.choices)) return null;
  let text: string | null = null;
  for (const choice of chunk.choices) {
    const delta = isRecord(choice) && isRecord(choice.delta) ? choice.delta : null;
    if (!delta) continue;
    if (typeof delta.content === "string" && delta.content.length > 0)
      text = (text ?? "") + delta.content;
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) {
        const fn = isRecord(call) && isRecord(call.function) ? call.function : null;
        text = (text ?? "") + (typeof fn?.arguments === "string" ? fn.arguments : "");
      }
    }
  }
  return text;
}

/**
 * Writes the headers, then each transformed slice of the upstream body as it
 * arrives, waiting for the client to drain. A broken upstream ends the stream
 * with the protocol's error frame; a client that leaves ends it quietly.
 * Everything written passes the secret redactor here, the one way out.
 */
async function pump(
  upstream: UpstreamStream,
  client: ServerResponse,
  relayed: RelayedStream,
  options: RelayOptions,
  transform: (text: string) => string,
  finish: () => string | undefined = () => undefined,
): Promise<RelayedStream> {
  const redactor = options.redactor;
  client.writeHead(200, { ...SSE_HEADERS, ...redactor.redactHeaders(options.headers) });
  const decoder = new TextDecoder();
  // A secret split between two upstream chunks is held back until it is whole.
  const redacting = redactor.stream();
  try {
    for await (const bytes of upstream.body) {
      const out = redacting.push(transform(decoder.decode(bytes as Buffer, { stream: true })));
      if (out && !client.write(out)) await drained(client);
    }
    const last = redacting.push(finish() ?? "") + redacting.end();
    if (last) client.write(last);
  } catch (error) {
    const failure = failureFromError(client.destroyed ? new ClientGoneError() : error);
    if (failure.errorClass === "client_closed") {
      relayed.failure = failure;
    } else {
      relayed.failure = { ...failure, code: "upstream_stream_failed" };
      client.write(redacting.end() + redactor.redact(options.errorFrame(toError(relayed.failure))));
    }
  }
  client.end();
  return relayed;
}

function drained(client: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      client.off("drain", done);
      client.off("close", done);
      resolve();
    };
    client.on("drain", done);
    client.on("close", done);
  });
}
