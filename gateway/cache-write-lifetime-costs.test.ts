// Cache writes by lifetime: Anthropic bills a write that lives an hour above
// one that lives five minutes (its usage reports them apart as
// cache_creation.ephemeral_5m_input_tokens and ephemeral_1h_input_tokens).
// On LiteLLM's catalog entries as imported (test/reference/litellm); every
// expected cost is computed by hand in the comment above it, per million.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDecimal, parseDecimal } from "../events/money.ts";
import { catalogOf, liteLLMCatalog, PRICED_AT } from "../test/fixtures/price-catalogs.ts";
import { CostBook } from "./costs.ts";
import { fromLiteLLMCatalog } from "./price-import.ts";
import type { TokenUsage } from "./pricing.ts";

const litellm = liteLLMCatalog();
const NOW = PRICED_AT;

const anthropic = fromLiteLLMCatalog(litellm, "anthropic", "anthropic");
const costs = new CostBook(catalogOf(anthropic.prices));
const opus = { vendor: "anthropic", model: "claude-opus-4-1" };

describe("cache writes by lifetime on LiteLLM's Anthropic entries", () => {
  it("imports the 1-hour write rate beside the 5-minute one", () => {
    // LiteLLM claude-opus-4-1: cache_creation_input_token_cost 1.875e-05,
    // cache_creation_input_token_cost_above_1hr 3e-05 per token.
    expect(anthropic.prices.find((price) => price.model === "claude-opus-4-1")).toMatchObject({
      cache_write: "18.75",
      cache_write_1h: "30",
    });
  });

  it("bills 1-hour writes at their rate and the other writes at the 5-minute rate (claude-opus-4-1)", () => {
    // Input 15, cache read 1.5, 5-minute write 18.75, 1-hour write 30, output 75 per million.
    // 20,000 input: 2,000 read, 8,000 written (3,000 of them for an hour); 1,000 output:
    //   10,000 × 15 + 2,000 × 1.5 + 5,000 × 18.75 + 3,000 × 30 + 1,000 × 75
    //   = 150,000 + 3,000 + 93,750 + 90,000 + 75,000 = 411,750 → 0.41175
    const quote = costs.quote(
      opus,
      {
        inputTokens: 20_000,
        cachedInputTokens: 2_000,
        cacheWriteInputTokens: 8_000,
        cacheWrite1hInputTokens: 3_000,
        outputTokens: 1_000,
      },
      NOW,
    );
    expect(quote.listCostUsd).toBe("0.41175");
  });

  it("bills every write at the 5-minute rate when none is said to live an hour", () => {
    // 10,000 × 15 + 2,000 × 1.5 + 8,000 × 18.75 + 1,000 × 75
    //   = 150,000 + 3,000 + 150,000 + 75,000 = 378,000 → 0.378
    const quote = costs.quote(
      opus,
      {
        inputTokens: 20_000,
        cachedInputTokens: 2_000,
        cacheWriteInputTokens: 8_000,
        outputTokens: 1_000,
      },
      NOW,
    );
    expect(quote.listCostUsd).toBe("0.378");
  });

  it("defaults the 1-hour rate to the card's cache-write rate", () => {
    const card = catalogOf([
      { vendor: "v", model: "m", input: "2", cache_write: "2.5", output: "4" },
    ]).priceOf({ vendor: "v", model: "m" });
    expect(card?.quoted.cacheWrite1h).toBe("2.5");
  });
});

describe("cache writes by lifetime reconcile", () => {
  const rate = fc.bigInt({ min: 0n, max: 10n ** 15n }).map((scaled) => formatDecimal(scaled, 12));

  it("each part of the input at its own rate, exactly, whatever the split", () => {
    fc.assert(
      fc.property(
        fc.record({ input: rate, cached_input: rate, cache_write: rate, cache_write_1h: rate }),
        fc.integer({ min: 0, max: 1_000_000_000 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (rates, input, readShare, writeShare, hourShare) => {
          const written = Math.floor(input * writeShare);
          const used: TokenUsage = {
            inputTokens: input,
            cachedInputTokens: Math.floor(input * readShare),
            cacheWriteInputTokens: written,
            cacheWrite1hInputTokens: Math.floor(written * hourShare),
            outputTokens: 0,
          };
          const book = new CostBook(
            catalogOf([{ vendor: "v", model: "m", ...rates, output: "1" }]),
          );
          const price = (text: string) => parseDecimal(text, 12);
          const hour = used.cacheWrite1hInputTokens ?? 0;
          const expected =
            BigInt(input - used.cachedInputTokens - written) * price(rates.input) +
            BigInt(used.cachedInputTokens) * price(rates.cached_input) +
            BigInt(written - hour) * price(rates.cache_write) +
            BigInt(hour) * price(rates.cache_write_1h);
          expect(book.quote({ vendor: "v", model: "m" }, used, NOW).costScaled).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
