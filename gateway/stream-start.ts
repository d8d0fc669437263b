// A stream may still fail over until its first byte reaches the client. So
// the gateway reads the upstream stream up to its first whole event before
// answering: a stream that ends, breaks, or opens with an error event (a
// vendor that answers 200 and then `data: {"error": …}`) is a retryable
// failure of that attempt, and the next one is tried. Otherwise the bytes
// read so far are relayed first, then the rest as it arrives.
import type { Dispatcher } from "undici";
import { type AttemptFailure, failureFromError } from "./failures.ts";
import type { StreamDecoder } from "./vendors/adapter.ts";

export interface StartedStream {
  body: AsyncIterable<unknown>;
}

// An SSE event ends at a blank line.
const EVENT_END = /\r?\n\r?\n/;

export async function awaitFirstEvent(
  response: Dispatcher.ResponseData,
  createDecoder: () => StreamDecoder,
): Promise<{ stream: StartedStream } | { failure: AttemptFailure }> {
  const iterator = (response.body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  const textDecoder = new TextDecoder();
  let text = "";
  try {
    while (!EVENT_END.test(text)) {
      const next = await iterator.next();
      if (next.done) {
        return { failure: streamFailed("the vendor's stream ended before its first event") };
      }
      head.push(next.value);
      text += textDecoder.decode(next.value, { stream: true });
    }
  } catch (error) {
    return { failure: { ...failureFromError(error), retryable: true } };
  }
  // Only a first event that mentions an error is decoded here: the common case costs a scan.
  if (text.includes("error")) {
    const firstEvent = text.slice(0, (EVENT_END.exec(text)?.index ?? text.length) + 2);
    const error = createDecoder()
      .push(`${firstEvent}\n\n`)
      .find((event) => event.type === "error");
    if (error?.type === "error") {
      response.body.destroy();
      const overloaded =
        error.vendorType === "overloaded_error" || error.vendorType === "UNAVAILABLE";
      return {
        failure: {
          code: overloaded ? "upstream_overloaded" : "upstream_stream_failed",
          errorClass: "server_error",
          httpStatus: null,
          retryable: true,
          message: `the vendor's stream opened with an error${
            error.vendorType ? ` (${error.vendorType})` : ""
          }: ${error.message}`.slice(0, 500),
        },
      };
    }
  }
  return { stream: { body: replay(head, iterator) } };
}

async function* replay(
  head: readonly Uint8Array[],
  iterator: AsyncIterator<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  try {
    yield* head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      yield next.value;
    }
  } finally {
    // A relay that stops early (the client left) lets go of the upstream body too.
    await iterator.return?.();
  }
}

function streamFailed(message: string): AttemptFailure {
  return {
    code: "upstream_stream_failed",
    errorClass: "bad_response",
    httpStatus: null,
    retryable: true,
    message,
  };
}
