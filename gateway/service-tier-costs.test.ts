// Service tiers on the price card: the same model at standard, batch, flex
// and priority rates (gateway/pricing.ts), on LiteLLM's catalog entries
// imported as they are (test/reference/litellm). Every expected cost is
// computed by hand in the comment above it, per million tokens.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDecimal, parseDecimal } from "../events/money.ts";
import { SERVICE_TIERS, type ServiceTier } from "../events/schemas.ts";
import { catalogOf, liteLLMCatalog, PRICED_AT } from "../test/fixtures/price-catalogs.ts";
import { contractConfig } from "./config.ts";
import { CostBook } from "./costs.ts";
import { fromLiteLLMCatalog } from "./price-import.ts";
import { priceCatalogFile, type TokenUsage } from "./pricing.ts";

const litellm = liteLLMCatalog();
const NOW = PRICED_AT;

function usage(parts: Partial<TokenUsage> & { inputTokens: number; outputTokens: number }) {
  return { cachedInputTokens: 0, cacheWriteInputTokens: 0, reasoningTokens: 0, ...parts };
}

const imported = fromLiteLLMCatalog(litellm, "openai", "openai");
const openai = catalogOf(imported.prices);
const gpt4o = { vendor: "openai", model: "gpt-4o" };
const gpt5 = { vendor: "openai", model: "gpt-5" };

describe("service tiers on LiteLLM's OpenAI entries", () => {
  const costs = new CostBook(openai);

  it("imports the batch, flex and priority rates LiteLLM has", () => {
    const card = imported.prices.find((price) => price.model === "gpt-4o");
    // LiteLLM gpt-4o: input_cost_per_token_batches 1.25e-06, output 5e-06;
    // _priority: input 4.25e-06, cache read 2.125e-06, output 1.7e-05; no flex.
    expect(card?.service_tiers).toEqual({
      batch: { input: "1.25", output: "5" },
      priority: { input: "4.25", cached_input: "2.125", output: "17" },
    });
  });

  it("bills a batch request at half the standard rates (gpt-4o)", () => {
    const used = usage({ inputTokens: 100_000, outputTokens: 20_000 });
    // standard: 100,000 × 2.50 + 20,000 × 10 = 250,000 + 200,000 = 450,000 → 0.45
    expect(costs.quote(gpt4o, used, NOW).listCostUsd).toBe("0.45");
    // batch:    100,000 × 1.25 + 20,000 × 5  = 125,000 + 100,000 = 225,000 → 0.225
    expect(costs.quote(gpt4o, used, NOW, "batch")).toMatchObject({
      listCostUsd: "0.225",
      costUsd: "0.225",
      warnings: [],
    });
  });

  it("bills priority cache reads at the tier's own cache rate (gpt-4o)", () => {
    const used = usage({ inputTokens: 10_000, cachedInputTokens: 4_000, outputTokens: 1_000 });
    // 6,000 × 4.25 + 4,000 × 2.125 + 1,000 × 17 = 25,500 + 8,500 + 17,000 = 51,000 → 0.051
    expect(costs.quote(gpt4o, used, NOW, "priority").listCostUsd).toBe("0.051");
  });

  it("bills flex reasoning at the tier's output rate (gpt-5)", () => {
    // LiteLLM gpt-5 _flex: input 6.25e-07, cache read 6.25e-08, output 5e-06.
    const used = usage({
      inputTokens: 8_000,
      cachedInputTokens: 2_000,
      outputTokens: 3_000,
      reasoningTokens: 2_500,
    });
    // 6,000 × 0.625 + 2,000 × 0.0625 + 500 × 5 + 2,500 × 5 = 3,750 + 125 + 2,500 + 12,500
    //   = 18,875 → 0.018875
    expect(costs.quote(gpt5, used, NOW, "flex").listCostUsd).toBe("0.018875");
  });

  it("prices a tier the card lacks at standard rates, and says so (gpt-5 batch)", () => {
    const used = usage({ inputTokens: 8_000, cachedInputTokens: 2_000, outputTokens: 3_000 });
    // LiteLLM has no gpt-5 _batches rates. Standard: input 1.25, cache read 0.125, output 10:
    //   6,000 × 1.25 + 2,000 × 0.125 + 3,000 × 10 = 7,500 + 250 + 30,000 = 37,750 → 0.03775
    expect(costs.quote(gpt5, used, NOW, "batch")).toMatchObject({
      listCostUsd: "0.03775",
      warnings: [
        "price card cat-1 of openai/gpt-5 has no batch rates: priced at its standard rates",
      ],
    });
  });

  it("reports what LiteLLM prices that a card cannot express yet", () => {
    expect(imported.warnings).toContain(
      "gpt-4o-audio-preview: input_cost_per_audio_token, output_cost_per_audio_token not expressible on a price card yet; not imported",
    );
    // A web search fee by search context size: a card holds one fee per call.
    expect(imported.warnings).toContain(
      'gpt-4o-search-preview: search_context_cost_per_query differs by search context size ({"search_context_size_high":0.05,"search_context_size_low":0.03,"search_context_size_medium":0.035}), which a card cannot express yet; not imported',
    );
  });
});

describe("service tiers under a contract", () => {
  const catalog = catalogOf([
    {
      ...gpt4o,
      input: "2.50",
      output: "10",
      service_tiers: { batch: { input: "1.25", output: "5" } },
    },
    { vendor: "openai", model: "o3", input: "2", output: "8" },
  ]);
  const costs = new CostBook(catalog, [
    contractConfig.parse({
      id: "openai-2026",
      vendor: "openai",
      effective_from: "2026-01-01",
      discount_percent: "10",
      prices: [
        {
          model: "o3",
          input: "1.8",
          output: "7.2",
          service_tiers: { batch: { input: "0.9", output: "3.6" } },
        },
      ],
    }),
  ]);
  const used = usage({ inputTokens: 100_000, outputTokens: 20_000 });

  it("takes the discount off the tier's list cost", () => {
    // batch list 0.225 (above); × (100 − 10) / 100 = 0.2025
    expect(costs.quote(gpt4o, used, NOW, "batch")).toMatchObject({
      listCostUsd: "0.225",
      costUsd: "0.2025",
      contractId: "openai-2026",
    });
  });

  it("owes the contract's own tier rates", () => {
    // list at o3's standard card (no batch rates, warned): 100,000 × 2 + 20,000 × 8 = 360,000 → 0.36
    // owed at the contract's batch rates: 100,000 × 0.9 + 20,000 × 3.6 = 90,000 + 72,000 = 162,000 → 0.162
    expect(costs.quote({ vendor: "openai", model: "o3" }, used, NOW, "batch")).toMatchObject({
      listCostUsd: "0.36",
      costUsd: "0.162",
      warnings: ["price card cat-1 of openai/o3 has no batch rates: priced at its standard rates"],
    });
  });
});

describe("the price card file", () => {
  const card = { vendor: "v", model: "m", input: "1", output: "2" };
  const file = (prices: unknown[]) => ({
    version: "x",
    currency: "USD",
    unit: "per_million_tokens",
    prices,
  });

  it("accepts batch, flex and priority tiers, each a whole set of prices", () => {
    const tiers = { batch: { input: "0.5", output: "1" }, flex: { input: "0.5", output: "1" } };
    expect(priceCatalogFile.safeParse(file([{ ...card, service_tiers: tiers }])).success).toBe(
      true,
    );
  });

  it("refuses an unknown tier, standard among them (the card's own rates are standard), and a tier without output", () => {
    for (const tiers of [
      { scale: { input: "1", output: "1" } },
      { standard: { input: "1", output: "1" } },
      { batch: { input: "1" } },
      { batch: { input: "1", output: "1", typo: "1" } },
    ]) {
      expect(priceCatalogFile.safeParse(file([{ ...card, service_tiers: tiers }])).success).toBe(
        false,
      );
    }
  });
});

describe("cost by tier reconciles", () => {
  // Rates at up to 12 places and counts to 10^9: any rounding or float would show.
  const rate = fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 15n }))
    .map(([scaled]) => formatDecimal(scaled, 12));
  const rates = fc.record({ input: rate, cached_input: rate, output: rate, reasoning: rate });
  const tierOf = fc.constantFrom(...SERVICE_TIERS);
  const request = fc
    .record({
      input: fc.integer({ min: 0, max: 1_000_000_000 }),
      cachedShare: fc.double({ min: 0, max: 1, noNaN: true }),
      output: fc.integer({ min: 0, max: 1_000_000_000 }),
      reasoningShare: fc.double({ min: 0, max: 1, noNaN: true }),
      tier: tierOf,
    })
    .map(({ input, cachedShare, output, reasoningShare, tier }) => ({
      tier,
      usage: usage({
        inputTokens: input,
        cachedInputTokens: Math.floor(input * cachedShare),
        outputTokens: output,
        reasoningTokens: Math.floor(output * reasoningShare),
      }),
    }));

  it("each request at its tier's rates, and the totals by tier add up to the whole", () => {
    fc.assert(
      fc.property(
        rates,
        fc.record({ batch: rates, flex: rates, priority: rates }),
        fc.array(request, { minLength: 1, maxLength: 30 }),
        (standard, tiers, requests) => {
          const costs = new CostBook(catalogOf([{ ...gpt4o, ...standard, service_tiers: tiers }]));
          const byTier = new Map<ServiceTier, bigint>();
          let whole = 0n;
          for (const { tier, usage: used } of requests) {
            const quote = costs.quote(gpt4o, used, NOW, tier);
            // By hand, in integers scaled by 10^12 per million tokens = 10^18 per token.
            const card = tier === "standard" ? standard : tiers[tier];
            const price = (text: string) => parseDecimal(text, 12);
            const expected =
              BigInt(used.inputTokens - used.cachedInputTokens) * price(card.input) +
              BigInt(used.cachedInputTokens) * price(card.cached_input) +
              BigInt(used.outputTokens - used.reasoningTokens) * price(card.output) +
              BigInt(used.reasoningTokens) * price(card.reasoning);
            expect(quote.costScaled).toBe(expected);
            expect(quote.warnings).toEqual([]);
            byTier.set(tier, (byTier.get(tier) ?? 0n) + parseDecimal(quote.costUsd));
            whole += quote.costScaled;
          }
          const summed = [...byTier.values()].reduce((sum, cost) => sum + cost, 0n);
          expect(formatDecimal(summed)).toBe(formatDecimal(whole));
        },
      ),
      { numRuns: 200 },
    );
  });
});
