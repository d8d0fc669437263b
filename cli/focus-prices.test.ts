import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { CHARGE_CLASSES, type FocusPrice } from "../analytics/export/focus-prices.ts";
import { formatDecimal } from "../events/money.ts";
import { SERVICE_TIERS } from "../events/schemas.ts";
import type { ContractConfig } from "../gateway/config.ts";
import { CostBook } from "../gateway/costs.ts";
import { PriceCatalog, priceCatalogFile } from "../gateway/pricing.ts";
import { focusPricesOf } from "./focus-prices.ts";

const CATALOG = `version: prices-2026-11
currency: USD
unit: per_million_tokens
prices:
  - { vendor: openai, model: gpt-4o, input: "2.5", cached_input: "1.25", output: "10", effective_to: "2026-12-01", service_tiers: { batch: { input: "1.25", output: "5" } } }
  - { vendor: openai, model: gpt-4o, input: "2", output: "8", effective_from: "2026-12-01" }
  - { vendor: openai, model: o3, input: "2", output: "8", reasoning: "9", per_request: "0.01" }
  - { vendor: anthropic, model: claude, input: "0.000000000001", cache_write: "3.75", output: "15" }
`;

const CONTRACTS: ContractConfig[] = [
  {
    id: "openai-2026",
    vendor: "openai",
    effective_from: "2026-01-01",
    discount_percent: "12.5",
    prices: [{ model: "o3", input: "1.5", output: "6" }],
  },
  {
    id: "anthropic-odd",
    vendor: "anthropic",
    effective_from: "2026-01-01",
    discount_percent: "33.333333",
  },
];

function catalogPath(): string {
  const path = join(mkdtempSync(join(tmpdir(), "switchboard-focus-prices-")), "prices.yaml");
  writeFileSync(path, CATALOG);
  return path;
}

const text = (price: FocusPrice, side: "list" | "contracted") =>
  Object.fromEntries(CHARGE_CLASSES.map((name) => [name, formatDecimal(price[side][name])]));

describe("the FOCUS export's unit prices from the gateway's catalog and contracts", () => {
  const prices = focusPricesOf(catalogPath(), CONTRACTS);
  const find = (
    model: string,
    cardVersion: string,
    contractId: string | null,
    serviceTier = "standard",
  ) =>
    prices.find(
      (price) =>
        price.model === model &&
        price.cardVersion === cardVersion &&
        price.contractId === contractId &&
        price.serviceTier === serviceTier,
    ) as FocusPrice;

  it("gives each card's list prices per token, keyed as the ledger records the card", () => {
    expect(text(find("gpt-4o", "prices-2026-11", null), "list")).toEqual({
      input: "0.0000025",
      cached_input: "0.00000125",
      cache_write: "0.0000025",
      output: "0.00001",
      reasoning: "0.00001",
      request: "0",
    });
    expect(find("gpt-4o", "prices-2026-11@2026-12-01", null).list.input).toBe(2_000_000_000_000n);
  });

  it("gives a contract's own prices for its models and its discount for the others", () => {
    expect(text(find("o3", "prices-2026-11", "openai-2026"), "contracted")).toMatchObject({
      input: "0.0000015",
      output: "0.000006",
      reasoning: "0.000006",
    });
    expect(text(find("gpt-4o", "prices-2026-11", "openai-2026"), "contracted")).toMatchObject({
      input: "0.0000021875",
      cached_input: "0.00000109375",
      output: "0.00000875",
    });
  });

  it("leaves out a discount no unit price of 18 places can carry", () => {
    // 10^-18 a token, 66.666667% payable.
    expect(find("claude", "prices-2026-11", "anthropic-odd")).toBeUndefined();
    expect(find("claude", "prices-2026-11", null)).toBeDefined();
  });

  it("gives each service tier's rates, and a tier the card lacks its standard rates, as the gateway bills it", () => {
    expect(text(find("gpt-4o", "prices-2026-11", null, "batch"), "list")).toMatchObject({
      input: "0.00000125",
      cached_input: "0.00000125",
      output: "0.000005",
    });
    expect(
      text(find("gpt-4o", "prices-2026-11", "openai-2026", "batch"), "contracted"),
    ).toMatchObject({
      input: "0.00000109375",
      output: "0.000004375",
    });
    expect(find("gpt-4o", "prices-2026-11", null, "flex").list).toEqual(
      find("gpt-4o", "prices-2026-11", null).list,
    );
  });

  it.each(SERVICE_TIERS)(
    "gives back what the gateway's CostBook charges at %s, class by class",
    (tier) => {
      const book = new CostBook(new PriceCatalog(parseCatalog()), CONTRACTS);
      const usage = {
        inputTokens: 12_345,
        cachedInputTokens: 2_000,
        cacheWriteInputTokens: 0,
        outputTokens: 3_000,
        reasoningTokens: 1_000,
      };
      const target = { vendor: "openai", model: "gpt-4o" };
      const quote = book.quote(target, usage, Date.parse("2026-11-20"), tier);
      const price = find("gpt-4o", "prices-2026-11", "openai-2026", tier);
      // gpt-4o prices reasoning as output: one output row of all 3,000.
      const quantities = [10_345n, 2_000n, 0n, 3_000n, 0n, 0n];
      const total = (side: "list" | "contracted") =>
        CHARGE_CLASSES.reduce(
          (sum, name, index) => sum + (quantities[index] ?? 0n) * price[side][name],
          0n,
        );
      expect(formatDecimal(total("list"))).toBe(quote.listCostUsd);
      expect(formatDecimal(total("contracted"))).toBe(quote.costUsd);
    },
  );
});

function parseCatalog() {
  return priceCatalogFile.parse(parseYaml(CATALOG));
}
