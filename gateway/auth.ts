import { createHash } from "node:crypto";
import type { BudgetState, Budgets } from "./budgets.ts";
import type { GatewayConfig } from "./config.ts";
import { GatewayError } from "./errors.ts";

export interface Caller {
  tenantId: string;
  keyId: string;
  team: string | null;
  tags: readonly string[];
  /** The key opted in to prompt_sha256 in its events (README, Privacy). */
  storePromptHash: boolean;
  /** The key's own budgets and its team's, resolved once at start. */
  budgets: readonly BudgetState[];
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * Maps bearer keys to who calls: tenant, key, team, tags, budgets. Only
 * hashes are held, so a leaked config leaks no key. Everything a request
 * needs about its key is computed here once, at start.
 */
export class ApiKeys {
  private readonly callersByHash: Map<string, Caller>;

  constructor(keys: GatewayConfig["api_keys"], budgets?: Budgets) {
    this.callersByHash = new Map(
      keys.map((key) => [
        key.sha256,
        {
          tenantId: key.tenant,
          keyId: key.id,
          team: key.team ?? null,
          tags: key.tags ?? [],
          storePromptHash: key.store_prompt_hash ?? false,
          budgets: budgets?.forKey(key) ?? [],
        },
      ]),
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
