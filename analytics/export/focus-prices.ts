// The unit prices behind the FOCUS export's rows. The ledger records each
// request's list and contracted cost, its tokens by class, its price card's
// version and its contract, but not the unit prices; those are the price
// cards' and contracts' (gateway config). The CLI passes them here, keyed by
// what the ledger records, and the export uses a card's prices for a request
// only when they give back the request's recorded costs exactly (focus.ts):
// a card edited under the same version, or a card the config no longer has,
// leaves that request unsplit, never priced anew.
import { formatDecimal } from "../../events/money.ts";

/** The charge classes of a request, in the order of every price array here and in focus.ts. */
export const CHARGE_CLASSES = [
  "input",
  "cached_input",
  "cache_write",
  "output",
  "reasoning",
  "request",
] as const;
export type ChargeClass = (typeof CHARGE_CLASSES)[number];

/** USD per token (per request for `request`), × 10^18, per class. */
export type UnitPrices = Record<ChargeClass, bigint>;

export interface FocusPrice {
  vendor: string;
  model: string;
  /** The price card's version, as `price_card_version` records it. */
  cardVersion: string;
  /** The contract, as `contract_id` records it; null for requests at list prices. */
  contractId: string | null;
  /** The service tier, as `service_tier` records it: the rates a request served at it was priced at. */
  serviceTier: string;
  list: UnitPrices;
  /** What the contract charges; the list prices when `contractId` is null. */
  contracted: UnitPrices;
}

/** What a request is looked up by: vendor, model, card version, contract ('' for none) and tier. */
export function focusPriceKey(price: FocusPrice): string {
  return [
    price.vendor,
    price.model,
    price.cardVersion,
    price.contractId ?? "",
    price.serviceTier,
  ].join("\u0000");
}

/**
 * The prices as one JSON query parameter, which focus.ts reads with
 * JSONExtract: the keys, and the list and contracted unit prices index for
 * index, as exact decimal strings, never numbers.
 */
export function focusPricesParameter(prices: readonly FocusPrice[]): string {
  const decimals = (unit: UnitPrices) => CHARGE_CLASSES.map((name) => formatDecimal(unit[name]));
  return JSON.stringify({
    keys: prices.map(focusPriceKey),
    list: prices.map((price) => decimals(price.list)),
    contracted: prices.map((price) => decimals(price.contracted)),
  });
}
