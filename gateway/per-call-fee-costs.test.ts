// Per-call fees: server tools a vendor bills per call (Anthropic's web
// search, $10 per 1,000 searches, counted in usage.server_tool_use
// .web_search_requests), at the card's per_call fee whatever the tier or
// context length. On LiteLLM's entries as imported; every expected cost is
// computed by hand in the comment above it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDecimal, parseDecimal } from "../events/money.ts";
import { catalogOf, liteLLMCatalog, PRICED_AT } from "../test/fixtures/price-catalogs.ts";
import { CostBook } from "./costs.ts";
import { fromLiteLLMCatalog } from "./price-import.ts";
import { priceCatalogFile } from "./pricing.ts";

const anthropic = fromLiteLLMCatalog(liteLLMCatalog(), "anthropic", "anthropic");
const sonnet = { vendor: "anthropic", model: "claude-sonnet-4-5" };
const zero = { cachedInputTokens: 0, cacheWriteInputTokens: 0, reasoningTokens: 0 };

describe("per-call fees on LiteLLM's Anthropic entries", () => {
  it("imports web search at one fee per query when every context size costs the same", () => {
    // LiteLLM claude-sonnet-4-5: search_context_cost_per_query 0.01 at low, medium and high.
    expect(anthropic.prices.find((price) => price.model === "claude-sonnet-4-5")?.per_call).toEqual(
      {
        web_search: "0.01",
      },
    );
  });

  it("bills each search on top of the tokens (claude-sonnet-4-5)", () => {
    const costs = new CostBook(catalogOf(anthropic.prices));
    // 10,000 × 3 + 500 × 15 = 30,000 + 7,500 = 37,500 per million → 0.0375; 3 searches × 0.01 = 0.03
    //   → 0.0675
    const quote = costs.quote(
      sonnet,
      { ...zero, inputTokens: 10_000, outputTokens: 500, serverToolCalls: { web_search: 3 } },
      PRICED_AT,
    );
    expect(quote.listCostUsd).toBe("0.0675");
  });

  it("keeps the card's fee at every tier and above the long-context threshold", () => {
    const costs = new CostBook(
      catalogOf([
        {
          vendor: "v",
          model: "m",
          input: "1",
          output: "1",
          per_call: { web_search: "0.01" },
          service_tiers: { batch: { input: "0.5", output: "0.5" } },
          long_context: { above_input_tokens: 100, input: "2" },
        },
      ]),
    );
    const used = { ...zero, inputTokens: 0, outputTokens: 0, serverToolCalls: { web_search: 2 } };
    // No tokens: only the 2 searches × 0.01 = 0.02, at batch as at standard.
    expect(costs.quote({ vendor: "v", model: "m" }, used, PRICED_AT, "batch").listCostUsd).toBe(
      "0.02",
    );
    // 1,000 input above 100: 1,000 × 2 = 2,000 per million → 0.002; + 0.02 → 0.022
    expect(
      costs.quote({ vendor: "v", model: "m" }, { ...used, inputTokens: 1_000 }, PRICED_AT)
        .listCostUsd,
    ).toBe("0.022");
  });

  it("refuses a tool it does not know and a fee past 18 places", () => {
    const file = (per_call: unknown) => ({
      version: "x",
      currency: "USD",
      unit: "per_million_tokens",
      prices: [{ vendor: "v", model: "m", input: "1", output: "2", per_call }],
    });
    expect(priceCatalogFile.safeParse(file({ web_search: "0.01" })).success).toBe(true);
    expect(priceCatalogFile.safeParse(file({ web_browse: "0.01" })).success).toBe(false);
    expect(priceCatalogFile.safeParse(file({ web_search: "0.0000000000000000001" })).success).toBe(
      false,
    );
  });
});

describe("per-call fees reconcile", () => {
  it("calls × fee, exactly, beside the tokens", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 18n }).map((scaled) => formatDecimal(scaled, 18)),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (fee, calls, input) => {
          const costs = new CostBook(
            catalogOf([
              { vendor: "v", model: "m", input: "1", output: "1", per_call: { web_search: fee } },
            ]),
          );
          const quote = costs.quote(
            { vendor: "v", model: "m" },
            {
              ...zero,
              inputTokens: input,
              outputTokens: 0,
              serverToolCalls: { web_search: calls },
            },
            PRICED_AT,
          );
          // input × 1 per million = input × 10^12 at 10^-18; calls × fee at 10^-18.
          expect(quote.costScaled).toBe(
            BigInt(input) * 10n ** 12n + BigInt(calls) * parseDecimal(fee),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
