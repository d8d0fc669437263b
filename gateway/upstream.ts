import { type Dispatcher, Pool } from "undici";
import type { VendorConfig } from "./config.ts";

/** One keep-alive connection pool per vendor; requests never open a fresh socket per call. */
export class Upstream {
  readonly vendor: VendorConfig;
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly authorization: string | undefined;

  constructor(vendor: VendorConfig) {
    this.vendor = vendor;
    const url = new URL(vendor.base_url);
    this.pool = new Pool(url.origin, {
      connections: vendor.max_connections,
      keepAliveTimeout: 30_000,
      headersTimeout: vendor.first_byte_timeout_ms,
      bodyTimeout: vendor.total_timeout_ms,
    });
    this.basePath = url.pathname.replace(/\/$/, "");
    const key = vendor.api_key_env ? process.env[vendor.api_key_env] : vendor.api_key;
    this.authorization = key ? `Bearer ${key}` : undefined;
  }

  post(path: string, body: string, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.authorization) headers.authorization = this.authorization;
    return this.pool.request({
      method: "POST",
      path: `${this.basePath}${path}`,
      headers,
      body,
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.vendor.total_timeout_ms)]),
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
