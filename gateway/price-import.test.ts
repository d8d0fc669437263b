import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { referenceJson } from "../test/fixtures/reference.ts";
import {
  decimalFromFloat,
  fromLiteLLMCatalog,
  fromOpenRouterModels,
  perMillionFromPerToken,
} from "./price-import.ts";
import { PriceCatalog } from "./pricing.ts";

// LiteLLM's catalog (its entries for the providers imported here) and OpenRouter's
// models API in its documented shape, a fixture written here (test/reference/SOURCES.md).
const litellm = referenceJson("litellm/model_prices_and_context_window.json");
const openRouter = JSON.parse(
  readFileSync(new URL("../test/fixtures/openrouter/models.json", import.meta.url), "utf8"),
);

describe("price importers", () => {
  it("reads JSON floats back as the decimals written in the file", () => {
    expect(decimalFromFloat(2.5e-6)).toBe("0.0000025");
    expect(decimalFromFloat(1e-7)).toBe("0.0000001");
    expect(decimalFromFloat(3.75e-6)).toBe("0.00000375");
    expect(decimalFromFloat(0)).toBe("0");
    expect(decimalFromFloat(12.5)).toBe("12.5");
    expect(decimalFromFloat(1e21)).toBe("1000000000000000000000");
  });

  it("rounds half-even at 12 places per million and says so", () => {
    expect(perMillionFromPerToken("0.0000025")).toEqual({ value: "2.5", rounded: false });
    expect(perMillionFromPerToken("0.00000008333333333333334")).toEqual({
      value: "0.083333333333",
      rounded: true,
    });
  });

  it("imports LiteLLM's real catalog: gpt-4o and claude-sonnet-4 at their published prices", () => {
    const openai = fromLiteLLMCatalog(litellm, "openai", "openai");
    expect(openai.prices.find((price) => price.model === "gpt-4o")).toEqual({
      vendor: "openai",
      model: "gpt-4o",
      input: "2.5",
      cached_input: "1.25",
      output: "10",
      service_tiers: {
        batch: { input: "1.25", output: "5" },
        priority: { input: "4.25", cached_input: "2.125", output: "17" },
      },
    });
    const anthropic = fromLiteLLMCatalog(litellm, "anthropic", "anthropic");
    expect(anthropic.prices.find((price) => price.model === "claude-sonnet-4-20250514")).toEqual({
      vendor: "anthropic",
      model: "claude-sonnet-4-20250514",
      input: "3",
      cached_input: "0.3",
      cache_write: "3.75",
      cache_write_1h: "6",
      output: "15",
      long_context: {
        above_input_tokens: 200_000,
        input: "6",
        output: "22.5",
        cached_input: "0.6",
        cache_write: "7.5",
      },
      per_call: { web_search: "0.01" },
    });
    const gemini = fromLiteLLMCatalog(litellm, "gemini", "google");
    expect(gemini.prices.find((price) => price.model === "gemini-2.0-flash-001")).toMatchObject({
      input: "0.1",
      output: "0.4",
    });
  });

  it("imports LiteLLM's reasoning prices and per-request fees, and one card per model", () => {
    const dashscope = fromLiteLLMCatalog(litellm, "dashscope", "dashscope");
    expect(dashscope.prices.find((price) => price.model === "qwen-turbo")).toEqual({
      vendor: "dashscope",
      model: "qwen-turbo",
      input: "0.05",
      output: "0.2",
      reasoning: "0.5",
    });
    const perplexity = fromLiteLLMCatalog(litellm, "perplexity", "perplexity");
    expect(perplexity.prices.find((price) => price.model === "sonar-medium-online")).toEqual({
      vendor: "perplexity",
      model: "sonar-medium-online",
      input: "0",
      output: "1.8",
      per_request: "0.005",
    });
    // "gemini/gemini-flash-latest" and "gemini-flash-latest" differ in their cache-read price.
    const gemini = fromLiteLLMCatalog(litellm, "gemini", "google");
    const flashLatest = gemini.prices.filter((price) => price.model === "gemini-flash-latest");
    expect(flashLatest).toEqual([
      expect.objectContaining({ cached_input: "0.075", input: "0.3", output: "2.5" }),
    ]);
    expect(gemini.warnings).toContain(
      "gemini-flash-latest: same model as gemini/gemini-flash-latest; skipped in its favour",
    );
  });

  it("imports OpenRouter's models list, the same prices as LiteLLM where both list them", () => {
    const imported = fromOpenRouterModels(openRouter, "openrouter");
    // Every model of the list but the router, whose price depends on the model it picks.
    expect(imported.prices.map((price) => price.model)).toEqual([
      "anthropic/claude-sonnet-4",
      "google/gemini-2.0-flash-001",
      "google/gemini-2.5-flash",
      "meta-llama/llama-3.3-70b-instruct:free",
      "openai/gpt-4o",
      "perplexity/sonar-deep-research",
    ]);
    expect(imported.warnings).toContain(
      "openrouter/auto: no fixed prompt and completion price (-1, -1); skipped",
    );
    expect(
      imported.prices.find((price) => price.model === "meta-llama/llama-3.3-70b-instruct:free"),
    ).toEqual({
      vendor: "openrouter",
      model: "meta-llama/llama-3.3-70b-instruct:free",
      input: "0",
      output: "0",
    });
    expect(imported.prices.find((price) => price.model === "openai/gpt-4o")).toMatchObject({
      input: "2.5",
      output: "10",
    });
    expect(
      imported.prices.find((price) => price.model === "anthropic/claude-sonnet-4"),
    ).toMatchObject({
      input: "3",
      output: "15",
      cached_input: "0.3",
      cache_write: "3.75",
    });
    expect(
      imported.warnings.some((warning) =>
        warning.startsWith("google/gemini-2.0-flash-001 cache_write"),
      ),
    ).toBe(true);
  });

  it("gives a catalog whose costs are exact to the last decimal place", () => {
    const catalog = new PriceCatalog({
      version: "litellm-2026-07-24",
      currency: "USD",
      unit: "per_million_tokens",
      prices: fromLiteLLMCatalog(litellm, "openai", "openai").prices,
    });
    const price = catalog.priceOf({ vendor: "openai", model: "gpt-4o" });
    if (!price) throw new Error("gpt-4o missing");
    // 1,234 input of which 1,000 cached, 567 output:
    // 234 × 2.5e-6 + 1000 × 1.25e-6 + 567 × 1e-5 = 0.000585 + 0.00125 + 0.00567 = 0.007505
    expect(
      catalog.cost(price, { inputTokens: 1234, cachedInputTokens: 1000, outputTokens: 567 }),
    ).toBe("0.007505");
  });
});
