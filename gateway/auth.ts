import { createHash } from "node:crypto";
import type { GatewayConfig } from "./config.ts";
import { GatewayError } from "./errors.ts";

export interface Caller {
  tenantId: string;
  keyId: string;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Maps bearer keys to tenants. Only hashes are held, so a leaked config leaks no key. */
export class ApiKeys {
  private readonly callersByHash: Map<string, Caller>;

  constructor(keys: GatewayConfig["api_keys"]) {
    this.callersByHash = new Map(
      keys.map((key) => [key.sha256, { tenantId: key.tenant, keyId: key.id }]),
    );
  }

  /** `key` as the inbound API found it (OpenAI: bearer; Anthropic: x-api-key or bearer). */
  authenticate(key: string | undefined): Caller {
    if (!key) {
      throw new GatewayError(
        "invalid_api_key",
        "You didn't provide an API key. Send it as `Authorization: Bearer <key>` (or `x-api-key` on /v1/messages).",
      );
    }
    const caller = this.callersByHash.get(sha256Hex(key));
    if (!caller) throw new GatewayError("invalid_api_key", "Incorrect API key provided.");
    return caller;
  }
}
