// The lines `switchboard all` (or `gateway`, `analytics`) logs once it is up:
// where each API is, which vendors answer, and the demo credentials the
// config accepts, so a first run needs nothing else to send a request.
import { DEMO_ANALYTICS_TOKEN } from "../analytics/access.ts";
import { sha256Hex } from "../gateway/auth.ts";
import type { SwitchboardConfig } from "./config.ts";
import { DEMO_API_KEYS } from "./demo.ts";

export interface BannerParts {
  /** The gateway's URL, when this process runs it. */
  gatewayUrl?: string;
  /** The vendors the gateway routes to, and whether they are the simulator. */
  vendors?: { ids: string[]; simulated: boolean };
  /** The analytics API's URL, when this process runs it. */
  analyticsUrl?: string;
}

/** The banner's text: one line per fact, the demo credentials only when configured. */
export function startBanner(config: SwitchboardConfig, parts: BannerParts): string {
  const lines = ["Switchboard is up"];
  if (parts.gatewayUrl) {
    lines.push(
      `  gateway     ${parts.gatewayUrl}/v1 (OpenAI and Anthropic APIs; Prometheus at ${parts.gatewayUrl}/metrics)`,
    );
    if (parts.vendors) {
      lines.push(
        `  vendors     ${parts.vendors.ids.join(", ")}${parts.vendors.simulated ? " (SIMULATED: answers are synthetic)" : ""}`,
      );
    }
    for (const key of DEMO_API_KEYS) {
      const configured = config.gateway.api_keys.find((entry) => entry.sha256 === sha256Hex(key));
      if (!configured) continue;
      const scope = [
        configured.team ? `team ${configured.team}` : "",
        configured.tags.length > 0 ? `tags ${configured.tags.join(", ")}` : "",
      ].filter(Boolean);
      lines.push(`  demo key    ${key}${scope.length > 0 ? ` (${scope.join("; ")})` : ""}`);
    }
  }
  if (parts.analyticsUrl) {
    lines.push(`  analytics   ${parts.analyticsUrl} (reference: ${parts.analyticsUrl}/docs)`);
    const hash = sha256Hex(DEMO_ANALYTICS_TOKEN);
    const token = config.analytics.tokens.find((entry) => entry.sha256 === hash);
    if (token) {
      lines.push(
        `  demo token  ${DEMO_ANALYTICS_TOKEN}${token.admin ? " (admin: reads every tenant)" : ""}`,
      );
    }
  }
  return lines.join("\n");
}
