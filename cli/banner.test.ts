import { describe, expect, it } from "vitest";
import { startBanner } from "./banner.ts";
import { loadConfig } from "./config.ts";

describe("the start banner", () => {
  it("with the demo config: where each API is, the simulated vendors, the demo keys and token", () => {
    const banner = startBanner(loadConfig("config/switchboard.yaml", {}), {
      gatewayUrl: "http://127.0.0.1:8080",
      vendors: { ids: ["sim-alpha", "sim-beta"], simulated: true },
      analyticsUrl: "http://127.0.0.1:8081",
    });
    expect(banner.split("\n")).toEqual([
      "Switchboard is up",
      "  gateway     http://127.0.0.1:8080/v1 (OpenAI and Anthropic APIs; Prometheus at http://127.0.0.1:8080/metrics)",
      "  vendors     sim-alpha, sim-beta (SIMULATED: answers are synthetic)",
      "  demo key    sk-switchboard-demo",
      "  demo key    sk-switchboard-demo-search (team search; tags prod, search)",
      "  analytics   http://127.0.0.1:8081 (reference: http://127.0.0.1:8081/docs)",
      "  demo token  sk-switchboard-analytics-demo (admin: reads every tenant)",
    ]);
  });

  it("names no credential the config does not accept, and only the roles this process runs", () => {
    const config = loadConfig("config/switchboard.yaml", {});
    config.gateway.api_keys = [{ ...config.gateway.api_keys[0], sha256: "0".repeat(64) }] as never;
    config.analytics.tokens = [];
    const banner = startBanner(config, {
      gatewayUrl: "http://10.0.0.5:8080",
      vendors: { ids: ["openai"], simulated: false },
    });
    expect(banner).not.toMatch(/sk-switchboard|analytics/);
    expect(banner.split("\n").at(-1)).toBe("  vendors     openai");
  });
});
