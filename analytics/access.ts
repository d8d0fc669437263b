// Who may read what. An analytics token is scoped to a list of tenants or is
// an admin; only SHA-256 hashes are configured, so a leaked config leaks no
// token. Every query the API runs is filtered by the caller's tenants.
import { createHash } from "node:crypto";
import { z } from "zod";
import { AnalyticsError } from "./errors.ts";

export const analyticsTokenConfig = z
  .object({
    id: z.string().min(1).describe("a name for the token, safe to log"),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, "hex SHA-256 of the token")
      .describe("echo -n $TOKEN | sha256sum"),
    tenants: z.array(z.string().min(1)).min(1).optional().describe("the tenants it may read"),
    admin: z.boolean().default(false).describe("reads every tenant"),
  })
  .refine((token) => token.admin !== (token.tenants !== undefined), {
    message: "give either tenants or admin: true, not both",
    path: ["tenants"],
  });

export type AnalyticsTokenConfig = z.input<typeof analyticsTokenConfig>;

/** The tenants a caller may read: a list, or every tenant for an admin. */
export interface TenantScope {
  tokenId: string;
  tenants: string[] | "all";
}

/** The demo config's admin token (config/switchboard.yaml); README says how to replace it. */
export const DEMO_ANALYTICS_TOKEN = "sk-switchboard-analytics-demo";

export const DEMO_ANALYTICS_TOKENS: AnalyticsTokenConfig[] = [
  {
    id: "demo-admin",
    sha256: "989005c4dc41b3bf906a4a9f504c0ae0a7cd9281c72b574443a43f005b66c2bb",
    admin: true,
  },
];

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export class AnalyticsTokens {
  private readonly scopesByHash: Map<string, TenantScope>;

  constructor(tokens: AnalyticsTokenConfig[]) {
    this.scopesByHash = new Map(
      tokens.map((token) => [
        token.sha256,
        { tokenId: token.id, tenants: token.admin ? "all" : [...(token.tenants ?? [])] },
      ]),
    );
  }

  get size(): number {
    return this.scopesByHash.size;
  }

  authenticate(authorization: string | undefined): TenantScope {
    const token = /^Bearer\s+(.+)$/i.exec(authorization ?? "")?.[1]?.trim();
    if (!token) {
      throw new AnalyticsError(
        "invalid_token",
        "Send an analytics token as `Authorization: Bearer <token>`.",
      );
    }
    const scope = this.scopesByHash.get(sha256Hex(token));
    if (!scope) throw new AnalyticsError("invalid_token", "Unknown analytics token.");
    return scope;
  }
}

/**
 * Narrows a scope by a `tenant` parameter. Naming a tenant the token may not
 * read is refused outright rather than answered with nothing, so a caller
 * never mistakes "forbidden" for "no traffic".
 */
export function narrowScope(
  scope: TenantScope,
  requested: string[] | undefined,
  field = "tenant",
): TenantScope {
  if (!requested) return scope;
  if (scope.tenants !== "all") {
    const allowed = new Set(scope.tenants);
    const forbidden = requested.find((tenant) => !allowed.has(tenant));
    if (forbidden !== undefined) {
      throw new AnalyticsError(
        "forbidden_tenant",
        `This token may not read tenant "${forbidden}".`,
        field,
      );
    }
  }
  return { tokenId: scope.tokenId, tenants: [...new Set(requested)] };
}
