import type { ServerResponse } from "node:http";
import { createParser } from "eventsource-parser";
import type { Dispatcher } from "undici";
import { type AttemptFailure, failureFromError } from "./failures.ts";
import type { TokenUsage } from "./pricing.ts";
import { carriesContent, fromOpenAIUsage, isUsageOnlyChunk } from "./vendors/openai-compatible.ts";

export interface RelayedStream {
  usage: TokenUsage | null;
  responseModel: string | null;
  ttftMs: number | null;
  /** Set when the stream broke after it started: the client already has a 200. */
  failure: AttemptFailure | null;
}

/**
 * Pipes an upstream OpenAI SSE stream to the client frame by frame, without
 * buffering the answer, while reading usage and time to first token from it.
 * The usage-only chunk (which the gateway always asks for) reaches the client
 * only when the client asked for it too.
 */
export async function relayOpenAIStream(
  upstream: Dispatcher.ResponseData,
  client: ServerResponse,
  options: { headers: Record<string, string>; clientWantsUsage: boolean; elapsedMs(): number },
): Promise<RelayedStream> {
  const relayed: RelayedStream = { usage: null, responseModel: null, ttftMs: null, failure: null };
  client.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    ...options.headers,
  });

  let pending = "";
  const parser = createParser({
    onEvent(event) {
      if (event.data === "[DONE]") {
        pending += "data: [DONE]\n\n";
        return;
      }
      let chunk: { usage?: unknown; model?: unknown; choices?: unknown; error?: unknown };
      try {
        chunk = JSON.parse(event.data);
      } catch {
        pending += `data: ${event.data}\n\n`;
        return;
      }
      if (chunk.error) {
        relayed.failure = {
          errorClass: "server_error",
          httpStatus: null,
          retryable: false,
          message: JSON.stringify(chunk.error).slice(0, 300),
        };
      }
      relayed.usage = fromOpenAIUsage(chunk.usage) ?? relayed.usage;
      if (typeof chunk.model === "string") relayed.responseModel = chunk.model;
      if (relayed.ttftMs === null && carriesContent(chunk)) relayed.ttftMs = options.elapsedMs();
      if (isUsageOnlyChunk(chunk) && !options.clientWantsUsage) return;
      pending += `data: ${event.data}\n\n`;
    },
  });

  const decoder = new TextDecoder();
  try {
    for await (const bytes of upstream.body) {
      parser.feed(decoder.decode(bytes as Buffer, { stream: true }));
      if (pending) {
        const canContinue = client.write(pending);
        pending = "";
        if (!canContinue) await drained(client);
      }
    }
  } catch (error) {
    relayed.failure = client.destroyed
      ? {
          errorClass: "client_closed",
          httpStatus: null,
          retryable: false,
          message: "client closed",
        }
      : failureFromError(error);
    if (!client.destroyed) {
      const message = `upstream stream failed: ${relayed.failure.message}`;
      client.write(
        `data: ${JSON.stringify({ error: { message, type: "api_error", code: "upstream_stream_failed" } })}\n\n`,
      );
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
