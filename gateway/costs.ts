// What a request costs: its list cost at the price card in force when the
// request arrived, and what is owed under the vendor's contract in force then
// (a discount on list, or the contract's own prices for a model). Exact:
// BigInt at 10^-18 USD throughout (events/money.ts); the one rounding is a
// discount that does not divide exactly, rounded half-even at 18 places.
import { formatDecimal, parseDecimal } from "../events/money.ts";
import type { ServiceTier } from "../events/schemas.ts";
import type { ContractConfig, RouteTarget } from "./config.ts";
import {
  instantMs,
  type ModelPrice,
  type PriceCatalog,
  type Rates,
  ratesAtTier,
  ratesOf,
  scaledCost,
  type TokenUsage,
} from "./pricing.ts";

/** Discounts are percentages with up to 6 decimal places ("12.5", "7.125"). */
export const DISCOUNT_SCALE = 6;
const HUNDRED_PERCENT = 100n * 10n ** BigInt(DISCOUNT_SCALE);

export interface CostQuote {
  /** At the card's list prices. */
  listCostUsd: string;
  /** What is owed: the contracted cost, or the list cost when no contract applies. */
  costUsd: string;
  /** The contract applied, or null. */
  contractId: string | null;
  /** False: no card prices this vendor's model at the request's time; both costs are "0". */
  priceKnown: boolean;
  /** The card's version, or the catalog's when no card applied. */
  priceCardVersion: string;
  /** Scaled by 10^18, for budgets. */
  costScaled: bigint;
  /** What the request's event should say about its price: a tier the card or contract cannot price. */
  warnings: string[];
}

interface Contract {
  id: string;
  vendor: string;
  effectiveFrom: number;
  effectiveTo: number | null;
  /** (100 − discount) × 10^6, or null for no discount. */
  payableShare: bigint | null;
  /** The contract's own prices per model. */
  rates: Map<string, Rates>;
}

export class CostBook {
  private readonly contractsByVendor = new Map<string, Contract[]>();
  private readonly warnedUnpriced = new Set<string>();

  constructor(
    readonly catalog: PriceCatalog,
    contracts: readonly ContractConfig[] = [],
    private readonly onUnpriced: (target: RouteTarget) => void = () => {},
  ) {
    for (const config of contracts) {
      const contract: Contract = {
        id: config.id,
        vendor: config.vendor,
        effectiveFrom: instantMs(config.effective_from),
        effectiveTo: config.effective_to ? instantMs(config.effective_to) : null,
        payableShare:
          config.discount_percent === undefined
            ? null
            : HUNDRED_PERCENT - parseDecimal(config.discount_percent, DISCOUNT_SCALE),
        rates: new Map(
          (config.prices ?? []).map((entry) => {
            if (!catalog.hasAnyCard({ vendor: config.vendor, model: entry.model })) {
              throw new Error(
                `contract ${config.id}: ${config.vendor}/${entry.model} has no list price card in catalog ${catalog.version}`,
              );
            }
            return [entry.model, ratesOf(entry)];
          }),
        ),
      };
      const list = this.contractsByVendor.get(config.vendor) ?? [];
      for (const other of list) {
        if (overlaps(contract, other)) {
          throw new Error(
            `contracts ${other.id} and ${contract.id} for vendor ${config.vendor} overlap in time`,
          );
        }
      }
      list.push(contract);
      this.contractsByVendor.set(config.vendor, list);
    }
  }

  /** Whether a card prices this target at `at` (epoch ms). */
  isPriced(target: RouteTarget, at: number): boolean {
    return this.catalog.priceOf(target, at) !== undefined;
  }

  /**
   * The cost of `usage` on `target` for a request that arrived at `at`
   * (epoch ms) and was served at `tier`: at the card's (and the contract's)
   * rates for that tier. A tier with no rates of its own is priced at the
   * standard rates, and the quote's warnings say so.
   */
  quote(
    target: RouteTarget | null,
    usage: TokenUsage,
    at: number,
    tier: ServiceTier = "standard",
  ): CostQuote {
    if (target === null) return this.unpriced(true);
    const card = this.catalog.priceOf(target, at);
    if (!card) {
      this.warnUnpriced(target);
      return this.unpriced(false);
    }
    const warnings: string[] = [];
    const list = ratesAtTier(card, tier);
    if (list.missing) {
      warnings.push(
        `price card ${card.version} of ${target.vendor}/${target.model} has no ${tier} rates: priced at its standard rates`,
      );
    }
    const listScaled = scaledCost(list.rates, usage);
    const contract = this.contractAt(target.vendor, at);
    const owed = contract
      ? contractedCost(contract, card, usage, listScaled, tier, warnings)
      : null;
    const costScaled = owed ?? listScaled;
    return {
      listCostUsd: formatDecimal(listScaled),
      costUsd: formatDecimal(costScaled),
      contractId: owed === null ? null : (contract?.id ?? null),
      priceKnown: true,
      priceCardVersion: card.version,
      costScaled,
      warnings,
    };
  }

  private unpriced(priceKnown: boolean): CostQuote {
    return {
      listCostUsd: "0",
      costUsd: "0",
      contractId: null,
      priceKnown,
      priceCardVersion: this.catalog.version,
      costScaled: 0n,
      warnings: [],
    };
  }

  /** Once per vendor/model for the process's life: a log line, never a silent $0. */
  private warnUnpriced(target: RouteTarget): void {
    const key = `${target.vendor}/${target.model}`;
    if (this.warnedUnpriced.has(key)) return;
    this.warnedUnpriced.add(key);
    this.onUnpriced(target);
  }

  private contractAt(vendor: string, at: number): Contract | undefined {
    const list = this.contractsByVendor.get(vendor);
    if (!list) return undefined;
    return list.find(
      (contract) =>
        contract.effectiveFrom <= at &&
        (contract.effectiveTo === null || at < contract.effectiveTo),
    );
  }
}

/**
 * The contract's own prices for the model at the tier when it has them, else
 * its discount on the list cost (at the tier's list rates); null when the
 * contract covers neither.
 */
function contractedCost(
  contract: Contract,
  card: ModelPrice,
  usage: TokenUsage,
  listScaled: bigint,
  tier: ServiceTier,
  warnings: string[],
): bigint | null {
  const own = contract.rates.get(card.model);
  if (own) {
    const contracted = ratesAtTier(own, tier);
    if (contracted.missing) {
      warnings.push(
        `contract ${contract.id} has no ${tier} rates for ${card.model}: owed at its standard rates`,
      );
    }
    return scaledCost(contracted.rates, usage);
  }
  if (contract.payableShare === null) return null;
  return divideHalfEven(listScaled * contract.payableShare, HUNDRED_PERCENT);
}

/** a / b for non-negative a and positive b, rounded half to even. */
export function divideHalfEven(a: bigint, b: bigint): bigint {
  const quotient = a / b;
  const twiceRemainder = (a % b) * 2n;
  if (twiceRemainder > b || (twiceRemainder === b && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}

function overlaps(a: Contract, b: Contract): boolean {
  const aEnd = a.effectiveTo ?? Infinity;
  const bEnd = b.effectiveTo ?? Infinity;
  return a.effectiveFrom < bEnd && b.effectiveFrom < aEnd;
}
