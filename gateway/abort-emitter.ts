// A cancellation signal undici accepts (an EventEmitter with `aborted`,
// `reason` and an "abort" event), for the client's departure and for each
// attempt. Not AbortController: in Node 20 every listener added to or removed
// from an AbortSignal costs about 2.5 µs, and each request needed four.
import { EventEmitter } from "node:events";

export class AbortEmitter extends EventEmitter {
  aborted = false;
  reason: unknown;

  /** Aborts once; later calls keep the first reason. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit("abort");
  }
}

/** Waits `milliseconds`, or less when `abort` fires first; never rejects. */
export function sleepUnlessAborted(milliseconds: number, abort: AbortEmitter): Promise<void> {
  return new Promise((resolve) => {
    if (abort.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      abort.removeListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, milliseconds);
    abort.once("abort", done);
  });
}
