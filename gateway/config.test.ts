import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { gatewayConfig } from "./config.ts";

const base = {
  price_catalog: "prices.yaml",
  api_keys: [{ id: "k", tenant: "t", sha256: "0".repeat(64) }],
  routes: [],
};

function issuesOf(vendor: Record<string, unknown>) {
  const parsed = gatewayConfig.safeParse({ ...base, vendors: [{ id: "v", ...vendor }] });
  return parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("vendor config", () => {
  it("accepts the example of every protocol, defaults filled in", () => {
    const example = parseYaml(
      readFileSync(new URL("../config/vendors.example.yaml", import.meta.url), "utf8"),
    ) as { vendors: unknown[]; routes: unknown[] };
    const config = gatewayConfig.parse({
      ...base,
      vendors: example.vendors,
      routes: example.routes,
    });
    const byId = new Map(config.vendors.map((vendor) => [vendor.id, vendor]));
    expect(byId.get("openai")?.base_url).toBe("https://api.openai.com/v1");
    expect(byId.get("anthropic")).toMatchObject({
      base_url: "https://api.anthropic.com/v1",
      anthropic_version: "2023-06-01",
      default_max_tokens: 4096,
    });
    expect(byId.get("gemini")?.base_url).toBe("https://generativelanguage.googleapis.com/v1beta");
    expect(byId.get("ollama")?.base_url).toBe("http://127.0.0.1:11434/v1");
    // Every protocol but the generic `openai-compatible`, which is `openai` at another URL.
    expect(new Set(config.vendors.map((vendor) => vendor.protocol)).size).toBe(12);
  });

  it.each([
    [{ protocol: "vllm" }, "base_url: protocol vllm has no public API: base_url is required"],
    [{ protocol: "azure-openai", base_url: "https://r.openai.azure.com" }, "api_version:"],
    [
      { protocol: "azure-openai", base_url: "https://r.openai.azure.com", api_version: "latest" },
      "api_version: an Azure api-version",
    ],
    [{ protocol: "anthropic", default_max_tokens: 0 }, "default_max_tokens:"],
    [{ protocol: "cohere" }, "protocol:"],
  ])("refuses %j, naming the field", (vendor, expected) => {
    expect(issuesOf(vendor).join("\n")).toContain(`vendors.0.${expected}`);
  });
});
