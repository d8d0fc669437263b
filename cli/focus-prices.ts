// The FOCUS export's unit prices (analytics/export/focus-prices.ts) from the
// gateway's price catalog and contracts: every card's list prices, and for
// each contract of the card's vendor that covers its model, the contracted
// prices; each at every service tier, as CostBook.quote prices a request
// served at it (a tier the card or contract lacks at its standard rates).
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { FocusPrice, UnitPrices } from "../analytics/export/focus-prices.ts";
import { parseDecimal } from "../events/money.ts";
import { SERVICE_TIERS } from "../events/schemas.ts";
import type { ContractConfig } from "../gateway/config.ts";
import { DISCOUNT_SCALE } from "../gateway/costs.ts";
import {
  cardVersion,
  priceCatalogFile,
  type Rates,
  ratesAtTier,
  ratesOf,
} from "../gateway/pricing.ts";

const HUNDRED_PERCENT = 100n * 10n ** BigInt(DISCOUNT_SCALE);

/**
 * A card's per-million prices × 10^12 are its per-token prices × 10^18
 * (gateway/pricing.ts), the money scale; the fee is per request at 10^18.
 */
function unitPricesOf(rates: Rates): UnitPrices {
  return {
    input: rates.scaled.input,
    cached_input: rates.scaled.cachedInput,
    cache_write: rates.scaled.cacheWrite,
    output: rates.scaled.output,
    reasoning: rates.scaled.reasoning,
    request: rates.perRequest.scaled,
  };
}

/**
 * The list prices less the discount, or null when a discounted unit price
 * would need more than 18 decimal places: the gateway rounded that
 * request's total, which no unit price gives back, so it stays unsplit.
 */
function discounted(list: UnitPrices, discountPercent: string): UnitPrices | null {
  const payableShare = HUNDRED_PERCENT - parseDecimal(discountPercent, DISCOUNT_SCALE);
  const entries = Object.entries(list).map(([name, price]) => {
    const scaled = price * payableShare;
    return [name, scaled % HUNDRED_PERCENT === 0n ? scaled / HUNDRED_PERCENT : null] as const;
  });
  if (entries.some(([, price]) => price === null)) return null;
  return Object.fromEntries(entries) as unknown as UnitPrices;
}

export function focusPricesOf(
  catalogPath: string,
  contracts: readonly ContractConfig[],
): FocusPrice[] {
  const file = priceCatalogFile.parse(parseYaml(readFileSync(catalogPath, "utf8")));
  const prices: FocusPrice[] = [];
  for (const entry of file.prices) {
    const cardRates = ratesOf(entry);
    for (const serviceTier of SERVICE_TIERS) {
      const list = unitPricesOf(ratesAtTier(cardRates, serviceTier).rates);
      const card = {
        vendor: entry.vendor,
        model: entry.model,
        cardVersion: cardVersion(file.version, entry),
        serviceTier,
      };
      prices.push({ ...card, contractId: null, list, contracted: list });
      for (const contract of contracts.filter((candidate) => candidate.vendor === entry.vendor)) {
        const own = contract.prices?.find((price) => price.model === entry.model);
        const contracted = own
          ? unitPricesOf(ratesAtTier(ratesOf(own), serviceTier).rates)
          : contract.discount_percent !== undefined
            ? discounted(list, contract.discount_percent)
            : null;
        if (contracted) prices.push({ ...card, contractId: contract.id, list, contracted });
      }
    }
  }
  return prices;
}
