// Long-context rates: above an input threshold (Anthropic's and Gemini's
// 200k tokens) every token of the request is billed at the higher rates, as
// the vendors bill it, not only the tokens past the threshold. On LiteLLM's
// catalog entries as imported (test/reference/litellm); every expected cost
// is computed by hand in the comment above it, per million tokens.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDecimal, parseDecimal } from "../events/money.ts";
import { catalogOf, liteLLMCatalog, PRICED_AT } from "../test/fixtures/price-catalogs.ts";
import { CostBook } from "./costs.ts";
import { fromLiteLLMCatalog } from "./price-import.ts";
import { priceCatalogFile } from "./pricing.ts";

const litellm = liteLLMCatalog();
const NOW = PRICED_AT;

const anthropic = fromLiteLLMCatalog(litellm, "anthropic", "anthropic");
const costs = new CostBook(catalogOf(anthropic.prices));
const sonnet = { vendor: "anthropic", model: "claude-sonnet-4-5" };
const zero = { cachedInputTokens: 0, cacheWriteInputTokens: 0, reasoningTokens: 0 };

describe("long-context rates on LiteLLM's entries", () => {
  it("imports the rates above 200k input tokens, and reads them as read", () => {
    // LiteLLM claude-sonnet-4-5, per token above 200k: input 6e-06, output 2.25e-05,
    // cache read 6e-07, cache write 7.5e-06, 1-hour cache write 1.2e-05.
    expect(anthropic.prices.find((price) => price.model === "claude-sonnet-4-5")).toMatchObject({
      long_context: {
        above_input_tokens: 200_000,
        input: "6",
        output: "22.5",
        cached_input: "0.6",
        cache_write: "7.5",
        cache_write_1h: "12",
      },
    });
    const warning = anthropic.warnings.find((each) => each.startsWith("claude-sonnet-4-5:"));
    expect(warning ?? "").not.toContain("above_200k_tokens");
    // Gemini's long-context priority rates have no place on a card yet: reported.
    const gemini = fromLiteLLMCatalog(litellm, "gemini", "google");
    expect(gemini.warnings.find((each) => each.startsWith("gemini/gemini-2.5-pro:"))).toContain(
      "input_cost_per_token_above_200k_tokens_priority",
    );
    expect(
      gemini.prices.find((price) => price.model === "gemini-2.5-pro")?.long_context,
    ).toMatchObject({ above_input_tokens: 200_000, input: "2.5", output: "15" });
  });

  it("bills a request of exactly 200k input tokens at the standard rates (claude-sonnet-4-5)", () => {
    // 200,000 × 3 + 1,000 × 15 = 600,000 + 15,000 = 615,000 → 0.615
    const quote = costs.quote(sonnet, { ...zero, inputTokens: 200_000, outputTokens: 1_000 }, NOW);
    expect(quote.listCostUsd).toBe("0.615");
  });

  it("bills every token of a request one token above at the long-context rates", () => {
    // 200,001 × 6 + 1,000 × 22.5 = 1,200,006 + 22,500 = 1,222,506 → 1.222506
    const quote = costs.quote(sonnet, { ...zero, inputTokens: 200_001, outputTokens: 1_000 }, NOW);
    expect(quote.listCostUsd).toBe("1.222506");
  });

  it("counts cache reads and writes in the threshold, each at its long-context rate", () => {
    // 250,000 input: 100,000 read, 20,000 written (5,000 for an hour); 2,000 output:
    //   130,000 × 6 + 100,000 × 0.6 + 15,000 × 7.5 + 5,000 × 12 + 2,000 × 22.5
    //   = 780,000 + 60,000 + 112,500 + 60,000 + 45,000 = 1,057,500 → 1.0575
    const quote = costs.quote(
      sonnet,
      {
        inputTokens: 250_000,
        cachedInputTokens: 100_000,
        cacheWriteInputTokens: 20_000,
        cacheWrite1hInputTokens: 5_000,
        outputTokens: 2_000,
        reasoningTokens: 0,
      },
      NOW,
    );
    expect(quote.listCostUsd).toBe("1.0575");
  });

  it("keeps the rates a long-context set does not give, and refuses one without a threshold", () => {
    const card = catalogOf([
      {
        vendor: "v",
        model: "m",
        input: "1",
        output: "2",
        reasoning: "3",
        long_context: { above_input_tokens: 10, input: "4" },
      },
    ]).priceOf({ vendor: "v", model: "m" });
    expect(card?.longContext?.rates.quoted).toMatchObject({
      input: "4",
      output: "2",
      reasoning: "3",
    });
    const file = (long_context: unknown) => ({
      version: "x",
      currency: "USD",
      unit: "per_million_tokens",
      prices: [{ vendor: "v", model: "m", input: "1", output: "2", long_context }],
    });
    expect(priceCatalogFile.safeParse(file({ input: "4" })).success).toBe(false);
    expect(priceCatalogFile.safeParse(file({ above_input_tokens: 0, input: "4" })).success).toBe(
      false,
    );
  });
});

describe("long-context cost reconciles", () => {
  const rate = fc.bigInt({ min: 0n, max: 10n ** 15n }).map((scaled) => formatDecimal(scaled, 12));

  it("a request is billed whole at one set of rates: the long-context set above the threshold", () => {
    fc.assert(
      fc.property(
        fc.record({ input: rate, output: rate }),
        fc.record({ input: rate, output: rate }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (standard, long, threshold, input, output) => {
          const book = new CostBook(
            catalogOf([
              {
                vendor: "v",
                model: "m",
                ...standard,
                long_context: { above_input_tokens: threshold, ...long },
              },
            ]),
          );
          const used = { ...zero, inputTokens: input, outputTokens: output };
          const rates = input > threshold ? long : standard;
          const price = (text: string) => parseDecimal(text, 12);
          expect(book.quote({ vendor: "v", model: "m" }, used, NOW).costScaled).toBe(
            BigInt(input) * price(rates.input) + BigInt(output) * price(rates.output),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
