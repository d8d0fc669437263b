import { type Dispatcher, Pool } from "undici";
import type { VendorConfig } from "./config.ts";
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

  send(request: UpstreamRequest, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    return this.pool.request({
      method: request.method,
      path: `${this.basePath}${request.path}`,
      headers: request.headers,
      body: request.body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.vendor.total_timeout_ms)]),
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
