import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { referenceJson } from "../test/fixtures/reference.ts";
import { contractConfig, type RouteTarget } from "./config.ts";
import { CostBook, divideHalfEven } from "./costs.ts";
import { fromLiteLLMCatalog, fromOpenRouterModels } from "./price-import.ts";
import { PriceCatalog, type PriceCatalogFile, type TokenUsage } from "./pricing.ts";

// LiteLLM's catalog (its entries for the providers imported here) and OpenRouter's
// models API in its documented shape, a fixture written here (test/reference/SOURCES.md).
const litellm = referenceJson("litellm/model_prices_and_context_window.json");
const openRouter = JSON.parse(
  readFileSync(new URL("../test/fixtures/openrouter/models.json", import.meta.url), "utf8"),
);

const at = (iso: string) => Date.parse(iso);
const NOW = at("2026-11-20T10:00:00.000Z");

function usage(parts: Partial<TokenUsage> & { inputTokens: number; outputTokens: number }) {
  return { cachedInputTokens: 0, cacheWriteInputTokens: 0, reasoningTokens: 0, ...parts };
}

function catalogOf(prices: PriceCatalogFile["prices"], version = "cat-1") {
  return new PriceCatalog({ version, currency: "USD", unit: "per_million_tokens", prices });
}

function contracts(...raw: unknown[]) {
  return raw.map((each) => contractConfig.parse(each));
}

describe("costs on the real LiteLLM catalog", () => {
  const catalog = catalogOf([
    ...fromLiteLLMCatalog(litellm, "anthropic", "anthropic").prices,
    ...fromLiteLLMCatalog(litellm, "dashscope", "dashscope").prices,
    ...fromLiteLLMCatalog(litellm, "perplexity", "perplexity").prices,
    ...fromLiteLLMCatalog(litellm, "gemini", "google").prices,
  ]);
  const costs = new CostBook(catalog);
  const cost = (vendor: string, model: string, used: TokenUsage) =>
    costs.quote({ vendor, model }, used, NOW);

  it("bills cache reads and cache writes at their own rates (claude-sonnet-4)", () => {
    // LiteLLM: input 3e-06, cache read 3e-07, cache write 3.75e-06, output 1.5e-05 per token.
    // 12,345 input of which 10,000 read and 2,000 written; 1,500 output:
    //   345 × 3 + 10,000 × 0.3 + 2,000 × 3.75 + 1,500 × 15 = 1,035 + 3,000 + 7,500 + 22,500
    //   = 34,035 per million → 0.034035 USD
    const quote = cost(
      "anthropic",
      "claude-sonnet-4-20250514",
      usage({
        inputTokens: 12_345,
        cachedInputTokens: 10_000,
        cacheWriteInputTokens: 2_000,
        outputTokens: 1_500,
      }),
    );
    expect(quote).toMatchObject({
      listCostUsd: "0.034035",
      costUsd: "0.034035",
      priceKnown: true,
      contractId: null,
      priceCardVersion: "cat-1",
    });
  });

  it("bills reasoning tokens at their own rate when the catalog has one (dashscope qwen-turbo)", () => {
    // input 5e-08, output 2e-07, output_cost_per_reasoning_token 5e-07 per token.
    // 1,001 input; 777 output of which 555 reasoning:
    //   1,001 × 0.05 + 222 × 0.2 + 555 × 0.5 = 50.05 + 44.4 + 277.5 = 371.95 per million
    //   → 0.00037195 USD
    expect(
      cost(
        "dashscope",
        "qwen-turbo",
        usage({ inputTokens: 1_001, outputTokens: 777, reasoningTokens: 555 }),
      ).costUsd,
    ).toBe("0.00037195");
  });

  it("bills reasoning at the output rate where LiteLLM prices them the same (gemini-2.5-flash)", () => {
    // input 3e-07, cache read 3e-08, output 2.5e-06, reasoning 2.5e-06 per token.
    // 4,000 input of which 3,000 read; 2,000 output of which 1,200 reasoning:
    //   1,000 × 0.3 + 3,000 × 0.03 + 800 × 2.5 + 1,200 × 2.5 = 300 + 90 + 2,000 + 3,000
    //   = 5,390 per million → 0.00539 USD
    expect(
      cost(
        "google",
        "gemini-2.5-flash",
        usage({
          inputTokens: 4_000,
          cachedInputTokens: 3_000,
          outputTokens: 2_000,
          reasoningTokens: 1_200,
        }),
      ).costUsd,
    ).toBe("0.00539");
  });

  it("adds the per-request fee once (perplexity sonar-medium-online)", () => {
    // input_cost_per_request 0.005, input 0, output 1.8e-06 per token.
    // 250 input, 333 output: 333 × 1.8 = 599.4 per million = 0.0005994; + 0.005 = 0.0055994 USD
    expect(
      cost("perplexity", "sonar-medium-online", usage({ inputTokens: 250, outputTokens: 333 }))
        .costUsd,
    ).toBe("0.0055994");
    // An attempt that used no token (the vendor never answered) costs nothing, fee included.
    expect(
      cost("perplexity", "sonar-medium-online", usage({ inputTokens: 0, outputTokens: 0 })).costUsd,
    ).toBe("0");
  });
});

describe("costs on OpenRouter's models list", () => {
  const imported = fromOpenRouterModels(openRouter, "openrouter");
  const catalog = catalogOf(imported.prices, "openrouter-2026-07");
  const costs = new CostBook(catalog);

  it("bills internal reasoning at its own rate (perplexity/sonar-deep-research)", () => {
    // prompt 0.000002, completion 0.000008, internal_reasoning 0.000003 per token.
    // 1,000 input; 10,000 output of which 9,000 reasoning:
    //   1,000 × 2 + 1,000 × 8 + 9,000 × 3 = 2,000 + 8,000 + 27,000 = 37,000 per million → 0.037 USD
    const quote = costs.quote(
      { vendor: "openrouter", model: "perplexity/sonar-deep-research" },
      usage({ inputTokens: 1_000, outputTokens: 10_000, reasoningTokens: 9_000 }),
      NOW,
    );
    expect(quote.costUsd).toBe("0.037");
  });

  it("bills the rounded cache-write card exactly (google/gemini-2.5-flash)", () => {
    // prompt 0.0000003, completion 0.0000025, input_cache_read 0.00000003,
    // input_cache_write 0.00000008333333333333334 → 0.083333333333 per million (rounded, warned).
    // 10,000 input of which 4,000 read and 3,000 written; 100 output:
    //   3,000 × 0.3 + 4,000 × 0.03 + 3,000 × 0.083333333333 + 100 × 2.5
    //   = 900 + 120 + 249.999999999 + 250 = 1,519.999999999 per million → 0.001519999999999 USD
    const quote = costs.quote(
      { vendor: "openrouter", model: "google/gemini-2.5-flash" },
      usage({
        inputTokens: 10_000,
        cachedInputTokens: 4_000,
        cacheWriteInputTokens: 3_000,
        outputTokens: 100,
      }),
      NOW,
    );
    expect(quote.costUsd).toBe("0.001519999999999");
    expect(
      imported.warnings.some((warning) =>
        warning.startsWith("google/gemini-2.5-flash cache_write"),
      ),
    ).toBe(true);
  });

  it("imports a per-request fee where a model has one, and none for a price of 0", () => {
    // The fixture has no model with a request price; OpenRouter's schema has the field.
    const { prices } = fromOpenRouterModels(
      [
        {
          id: "x/fee",
          pricing: { prompt: "0.000001", completion: "0.000002", request: "0.0004" },
        },
        {
          id: "x/free-request",
          pricing: {
            prompt: "0.000001",
            completion: "0.000002",
            request: "0",
            internal_reasoning: "0",
          },
        },
      ],
      "openrouter",
    );
    expect(prices).toEqual([
      { vendor: "openrouter", model: "x/fee", input: "1", output: "2", per_request: "0.0004" },
      { vendor: "openrouter", model: "x/free-request", input: "1", output: "2" },
    ]);
    // 1,000 × 1 + 500 × 2 = 2,000 per million = 0.002; + 0.0004 = 0.0024 USD
    expect(
      new CostBook(catalogOf(prices)).quote(
        { vendor: "openrouter", model: "x/fee" },
        usage({ inputTokens: 1_000, outputTokens: 500 }),
        NOW,
      ).costUsd,
    ).toBe("0.0024");
  });
});

describe("effective-dated price cards", () => {
  const target = { vendor: "openai", model: "gpt-4o" };
  const catalog = catalogOf([
    { ...target, input: "5", output: "15", effective_to: "2026-08-01" },
    { ...target, input: "2.50", output: "10", effective_from: "2026-08-01" },
    {
      vendor: "openai",
      model: "retired",
      version: "retired-card",
      input: "1",
      output: "1",
      effective_to: "2026-06-01T12:00:00Z",
    },
  ]);
  const costs = new CostBook(catalog);
  const used = usage({ inputTokens: 1_000, outputTokens: 100 });

  it("uses the card in force at the request time, and stamps its version", () => {
    // Before: 1,000 × 5 + 100 × 15 = 6,500 per million → 0.0065
    expect(costs.quote(target, used, at("2026-07-31T23:59:59.999Z"))).toMatchObject({
      costUsd: "0.0065",
      priceCardVersion: "cat-1",
    });
    // From the boundary on: 1,000 × 2.5 + 100 × 10 = 3,500 per million → 0.0035
    expect(costs.quote(target, used, at("2026-08-01T00:00:00.000Z"))).toMatchObject({
      costUsd: "0.0035",
      priceCardVersion: "cat-1@2026-08-01",
    });
  });

  it("prices nothing after a card's end when no card follows", () => {
    const retired = { vendor: "openai", model: "retired" };
    expect(costs.quote(retired, used, at("2026-06-01T11:59:59.999Z"))).toMatchObject({
      priceKnown: true,
      priceCardVersion: "retired-card",
      costUsd: "0.0011",
    });
    expect(costs.quote(retired, used, at("2026-06-01T12:00:00.000Z"))).toMatchObject({
      priceKnown: false,
      costUsd: "0",
      listCostUsd: "0",
      priceCardVersion: "cat-1",
    });
  });

  it.each([
    [
      "two open-ended cards",
      [
        { input: "1", output: "1" },
        { input: "2", output: "2", effective_from: "2026-01-01" },
      ],
    ],
    [
      "cards whose dates overlap",
      [
        { input: "1", output: "1", effective_to: "2026-02-01" },
        { input: "2", output: "2", effective_from: "2026-01-15" },
      ],
    ],
  ])("refuses %s for one model", (_name, cards) => {
    expect(() => catalogOf(cards.map((card) => ({ ...target, ...card })))).toThrow(/overlap/);
  });
});

describe("contracts", () => {
  const gpt4o = { vendor: "openai", model: "gpt-4o" };
  const mini = { vendor: "openai", model: "gpt-4o-mini" };
  const catalog = catalogOf([
    { ...gpt4o, input: "2.50", cached_input: "1.25", output: "10" },
    { ...mini, input: "0.15", output: "0.60" },
    { vendor: "tiny", model: "t", input: "0.000000000001", output: "0" },
  ]);
  const costs = new CostBook(
    catalog,
    contracts(
      {
        id: "openai-2026",
        vendor: "openai",
        effective_from: "2026-03-01",
        effective_to: "2026-09-01",
        discount_percent: "12.5",
        prices: [{ model: "gpt-4o", input: "2", output: "8" }],
      },
      { id: "tiny-half", vendor: "tiny", effective_from: "2026-01-01", discount_percent: "50" },
    ),
  );
  // 1,000 input of which 400 cached, 250 output.
  const used = usage({ inputTokens: 1_000, cachedInputTokens: 400, outputTokens: 250 });

  it("applies only inside its dates (from inclusive, to exclusive)", () => {
    // List: 600 × 2.5 + 400 × 1.25 + 250 × 10 = 1,500 + 500 + 2,500 = 4,500 per million → 0.0045
    // mini list: 1,000 × 0.15 + 250 × 0.6 = 150 + 150 = 300 per million → 0.0003
    for (const outside of ["2026-02-28T23:59:59.999Z", "2026-09-01T00:00:00.000Z"]) {
      expect(costs.quote(mini, used, at(outside))).toMatchObject({
        listCostUsd: "0.0003",
        costUsd: "0.0003",
        contractId: null,
      });
    }
    expect(costs.quote(mini, used, at("2026-03-01T00:00:00.000Z")).contractId).toBe("openai-2026");
    expect(costs.quote(mini, used, at("2026-08-31T23:59:59.999Z")).contractId).toBe("openai-2026");
  });

  it("gives a discount on list cost for models without contracted prices", () => {
    // 0.0003 × (100 − 12.5) / 100 = 0.0003 × 0.875 = 0.0002625
    expect(costs.quote(mini, used, NOW - 86_400_000 * 100)).toMatchObject({
      listCostUsd: "0.0003",
      costUsd: "0.0002625",
      contractId: "openai-2026",
    });
  });

  it("uses contracted prices for a model it prices, not the discount", () => {
    // Contracted input 2, cached input defaults to it, output 8:
    //   1,000 × 2 + 250 × 8 = 2,000 + 2,000 = 4,000 per million → 0.004 (list stays 0.0045)
    expect(costs.quote(gpt4o, used, at("2026-05-05T00:00:00Z"))).toMatchObject({
      listCostUsd: "0.0045",
      costUsd: "0.004",
      contractId: "openai-2026",
      priceCardVersion: "cat-1",
    });
  });

  it("rounds a discount that does not divide exactly half to even at 10^-18", () => {
    const tiny = { vendor: "tiny", model: "t" };
    // 3 tokens × 10^-18 = 3 × 10^-18, halved = 1.5 × 10^-18 → 2 × 10^-18 (to even)
    expect(costs.quote(tiny, usage({ inputTokens: 3, outputTokens: 0 }), NOW).costUsd).toBe(
      "0.000000000000000002",
    );
    // 1 × 10^-18 halved = 0.5 × 10^-18 → 0 (to even)
    expect(costs.quote(tiny, usage({ inputTokens: 1, outputTokens: 0 }), NOW).costUsd).toBe("0");
    expect(divideHalfEven(25n, 10n)).toBe(2n);
    expect(divideHalfEven(35n, 10n)).toBe(4n);
    expect(divideHalfEven(36n, 10n)).toBe(4n);
  });

  it("refuses overlapping contracts of a vendor and contracted prices for an unlisted model", () => {
    const base = { vendor: "openai", discount_percent: "5" };
    expect(
      () =>
        new CostBook(
          catalog,
          contracts(
            { ...base, id: "a", effective_from: "2026-01-01", effective_to: "2026-07-01" },
            { ...base, id: "b", effective_from: "2026-06-30" },
          ),
        ),
    ).toThrow(/overlap/);
    expect(
      () =>
        new CostBook(
          catalog,
          contracts({
            id: "c",
            vendor: "openai",
            effective_from: "2026-01-01",
            prices: [{ model: "gpt-5", input: "1", output: "1" }],
          }),
        ),
    ).toThrow(/no list price card/);
    expect(
      contractConfig.safeParse({ id: "d", vendor: "openai", effective_from: "2026-01-01" }).success,
    ).toBe(false);
    expect(
      contractConfig.safeParse({
        ...base,
        id: "e",
        effective_from: "2026-01-01",
        discount_percent: "101",
      }).success,
    ).toBe(false);
  });
});

describe("an unknown model", () => {
  it("is priced 0 with price_known false, and reported once per vendor/model", () => {
    const warned: RouteTarget[] = [];
    const costs = new CostBook(catalogOf([]), [], (target) => warned.push(target));
    const unknown = { vendor: "openai", model: "gpt-9" };
    const used = usage({ inputTokens: 10, outputTokens: 10 });
    expect(costs.quote(unknown, used, NOW)).toEqual({
      listCostUsd: "0",
      costUsd: "0",
      contractId: null,
      priceKnown: false,
      priceCardVersion: "cat-1",
      costScaled: 0n,
      warnings: [],
    });
    costs.quote(unknown, used, NOW);
    costs.quote({ vendor: "other", model: "gpt-9" }, used, NOW);
    expect(warned).toEqual([unknown, { vendor: "other", model: "gpt-9" }]);
    expect(costs.isPriced(unknown, NOW)).toBe(false);
  });
});
