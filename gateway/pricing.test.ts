import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { normalizeDecimal } from "../events/money.ts";
import { PriceCatalog, perTokenPricing, priceCatalogFile } from "./pricing.ts";

const catalog = new PriceCatalog({
  version: "v1",
  currency: "USD",
  unit: "per_million_tokens",
  prices: [
    { vendor: "openai", model: "gpt-4o", input: "2.50", cached_input: "1.25", output: "10.00" },
    { vendor: "tiny", model: "t", input: "0.000000000001", output: "0.1" },
  ],
});

describe("PriceCatalog", () => {
  it("computes cost exactly, billing cached input at the cached rate", () => {
    const price = catalog.priceOf({ vendor: "openai", model: "gpt-4o" });
    if (!price) throw new Error("price missing");
    // (1000 - 400) × 2.50 + 400 × 1.25 + 250 × 10.00 = 1500 + 500 + 2500 = 4500 per million → 0.0045
    expect(
      catalog.cost(price, { inputTokens: 1000, cachedInputTokens: 400, outputTokens: 250 }),
    ).toBe("0.0045");
    expect(catalog.cost(price, { inputTokens: 1, cachedInputTokens: 0, outputTokens: 0 })).toBe(
      "0.0000025",
    );
  });

  it("bills cache writes and reasoning at their own rates, defaulting to input and output", () => {
    const priced = new PriceCatalog({
      version: "v1",
      currency: "USD",
      unit: "per_million_tokens",
      prices: [
        {
          vendor: "anthropic",
          model: "claude",
          input: "3",
          cached_input: "0.30",
          cache_write: "3.75",
          output: "15",
        },
        { vendor: "google", model: "gemini", input: "0.30", output: "2.50", reasoning: "3.50" },
      ],
    });
    const claude = priced.priceOf({ vendor: "anthropic", model: "claude" });
    const gemini = priced.priceOf({ vendor: "google", model: "gemini" });
    if (!claude || !gemini) throw new Error("price missing");
    // 1000 input of which 200 read and 300 written: 500 × 3 + 200 × 0.30 + 300 × 3.75 + 100 × 15
    // = 1500 + 60 + 1125 + 1500 = 4185 per million.
    expect(
      priced.cost(claude, {
        inputTokens: 1000,
        cachedInputTokens: 200,
        cacheWriteInputTokens: 300,
        outputTokens: 100,
        reasoningTokens: 0,
      }),
    ).toBe("0.004185");
    // 100 output of which 60 reasoning: 40 × 2.50 + 60 × 3.50 = 100 + 210 = 310 per million.
    expect(
      priced.cost(gemini, {
        inputTokens: 0,
        cachedInputTokens: 0,
        cacheWriteInputTokens: 0,
        outputTokens: 100,
        reasoningTokens: 60,
      }),
    ).toBe("0.00031");
    expect(perTokenPricing(claude).input_cache_write).toBe("0.00000375");
    expect(perTokenPricing(claude).internal_reasoning).toBe("0.000015");
  });

  it("keeps the smallest price at full precision", () => {
    const price = catalog.priceOf({ vendor: "tiny", model: "t" });
    if (!price) throw new Error("price missing");
    expect(catalog.cost(price, { inputTokens: 3, cachedInputTokens: 0, outputTokens: 0 })).toBe(
      "0.000000000000000003",
    );
    expect(perTokenPricing(price)).toEqual({
      prompt: "0.000000000000000001",
      completion: "0.0000001",
      request: "0",
      input_cache_read: "0.000000000000000001",
      input_cache_write: "0.000000000000000001",
      internal_reasoning: "0.0000001",
    });
  });

  it("lists per-token prices equal to OpenRouter's own catalog for the same list prices", () => {
    // OpenRouter's models API in its documented shape (test/reference/SOURCES.md).
    const openRouter = JSON.parse(
      readFileSync(new URL("../test/fixtures/openrouter/models.json", import.meta.url), "utf8"),
    ) as {
      data: { id: string; pricing: { prompt: string; completion: string } }[];
    };
    const gpt4o = openRouter.data.find((model) => model.id === "openai/gpt-4o");
    const price = catalog.priceOf({ vendor: "openai", model: "gpt-4o" });
    if (!gpt4o || !price) throw new Error("gpt-4o missing");
    const listed = perTokenPricing(price);
    expect(listed.prompt).toBe(normalizeDecimal(gpt4o.pricing.prompt));
    expect(listed.completion).toBe(normalizeDecimal(gpt4o.pricing.completion));
  });

  it.each([
    [{ input: 2.5, output: "1" }, "prices.0.input"],
    [{ input: "1e-6", output: "1" }, "prices.0.input"],
    [{ input: "0.0000000000001", output: "1" }, "prices.0.input"],
  ])("refuses a price written as %j", (entry, path) => {
    const parsed = priceCatalogFile.safeParse({
      version: "v",
      currency: "USD",
      unit: "per_million_tokens",
      prices: [{ vendor: "v", model: "m", ...entry }],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path.join(".")).toBe(path);
  });
});
