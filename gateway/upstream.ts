import { type Dispatcher, Pool } from "undici";
import { AbortEmitter } from "./abort-emitter.ts";
import type { VendorConfig } from "./config.ts";
import { FirstByteTimeoutError, TotalTimeoutError } from "./failures.ts";
import type { UpstreamRequest, VendorAdapter } from "./vendors/adapter.ts";
import { createVendorAdapter } from "./vendors/registry.ts";

/**
 * One configured vendor: its adapter, and one keep-alive connection pool, so
 * requests never open a fresh socket per call.
 */
export class Upstream {
  readonly vendor: VendorConfig;
  readonly adapter: VendorAdapter;
  private readonly pool: Pool;
  private readonly basePath: string;

  constructor(vendor: VendorConfig) {
    this.vendor = vendor;
    this.adapter = createVendorAdapter(vendor);
    const url = new URL(vendor.base_url);
    this.pool = new Pool(url.origin, {
      connections: vendor.max_connections,
      keepAliveTimeout: 30_000,
      // Per attempt: connecting, then the first byte (headers), then the whole answer (below).
      connect: { timeout: vendor.connect_timeout_ms ?? 10_000 },
      headersTimeout: vendor.first_byte_timeout_ms,
      bodyTimeout: vendor.total_timeout_ms,
    });
    this.basePath = url.pathname.replace(/\/$/, "");
  }

  /**
   * Sends one attempt. It stops when `clientGone` aborts, rejecting with its
   * reason (a ClientGoneError), at first_byte_timeout_ms if no headers came
   * (undici's own headersTimeout, kept as a backstop, fires only to about a
   * second), or at total_timeout_ms, each with a TimeoutError. One emitter
   * and two timers per attempt, released when the headers come and when the
   * body closes: AbortSignal.any and AbortSignal.timeout cost about 25 µs per
   * request in Node 20 (bench/RESULTS.md).
   */
  async send(request: UpstreamRequest, clientGone: AbortEmitter): Promise<Dispatcher.ResponseData> {
    const attempt = new AbortEmitter();
    const totalMs = this.vendor.total_timeout_ms;
    const timer = setTimeout(() => attempt.abort(new TotalTimeoutError(totalMs)), totalMs);
    timer.unref();
    const firstByteMs = this.vendor.first_byte_timeout_ms;
    const firstByteTimer = setTimeout(
      () => attempt.abort(new FirstByteTimeoutError(firstByteMs)),
      firstByteMs,
    );
    firstByteTimer.unref();
    const abortWithClient = () => attempt.abort(clientGone.reason);
    if (clientGone.aborted) abortWithClient();
    else clientGone.once("abort", abortWithClient);
    const release = () => {
      clearTimeout(timer);
      clientGone.removeListener("abort", abortWithClient);
    };
    try {
      const response = await this.pool.request({
        method: request.method,
        path: `${this.basePath}${request.path}`,
        headers: request.headers,
        body: request.body,
        signal: attempt,
      });
      clearTimeout(firstByteTimer);
      response.body.once("close", release);
      return response;
    } catch (error) {
      clearTimeout(firstByteTimer);
      release();
      throw error;
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
