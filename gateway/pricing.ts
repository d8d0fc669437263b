import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import {
  DECIMAL_STRING_PATTERN,
  formatDecimal,
  MONEY_SCALE,
  parseDecimal,
  perUnitPrice,
} from "../events/money.ts";
import { SERVICE_TIERS, type ServiceTier } from "../events/schemas.ts";
import type { RouteTarget } from "./config.ts";
import type { NormalizedUsage } from "./neutral.ts";

// Prices are quoted in USD per million tokens, as vendors publish them, and
// held as integers scaled by 10^12. tokens × that integer is then the cost
// scaled by 10^18 (the money scale of events/money.ts), with no rounding.
// The per-request fee is quoted in USD per request and held at scale 18.
const PRICE_SCALE = 12;
const TOKENS_PER_QUOTE = 1_000_000;

const decimalWithPlaces = (places: number, example: string) =>
  z
    .string()
    .regex(DECIMAL_STRING_PATTERN, `a decimal string such as "${example}"`)
    .refine((text) => (text.split(".")[1] ?? "").replace(/0+$/, "").length <= places, {
      message: `at most ${places} decimal places`,
    });

export const decimalPrice = decimalWithPlaces(PRICE_SCALE, "0.15");
const decimalFee = decimalWithPlaces(MONEY_SCALE, "0.005");

/**
 * A UTC instant: `2026-01-01` (midnight UTC) or an ISO date-time with `Z` or
 * an offset. Held as epoch milliseconds.
 */
export const instant = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/,
    "a date (2026-01-01, midnight UTC) or an ISO date-time with Z or an offset",
  )
  .refine((text) => Number.isFinite(Date.parse(text)), { message: "not a real date" });

export function instantMs(text: string): number {
  // Date.parse reads a bare date as midnight UTC, and a date-time with its offset.
  return Date.parse(text);
}

/** One set of token prices: a card's standard rates, or one of its service tiers'. */
const tierPrices = {
  input: decimalPrice,
  cached_input: decimalPrice.optional().describe("cache reads; defaults to the input price"),
  cache_write: decimalPrice
    .optional()
    .describe("cache writes (Anthropic's 5-minute ones); defaults to the input price"),
  cache_write_1h: decimalPrice
    .optional()
    .describe(
      "cache writes that live an hour (Anthropic's cache_creation.ephemeral_1h_input_tokens); defaults to the cache_write price",
    ),
  output: decimalPrice,
  reasoning: decimalPrice.optional().describe("reasoning tokens; defaults to the output price"),
  per_request: decimalFee
    .optional()
    .describe("USD per request that used any token (a search fee, say); defaults to 0"),
};

/**
 * A whole request's rates once its input passes a threshold (Anthropic's and
 * Gemini's above 200k input tokens): every token of it, not only those past
 * the threshold, as the vendors bill. A rate not given stays the one it
 * replaces.
 */
const longContextPrices = z
  .object({
    above_input_tokens: z
      .number()
      .int()
      .min(1)
      .describe(
        "the whole prompt (cache reads and writes included) above this many tokens takes these rates",
      ),
    input: decimalPrice.optional(),
    cached_input: decimalPrice.optional(),
    cache_write: decimalPrice.optional(),
    cache_write_1h: decimalPrice.optional(),
    output: decimalPrice.optional(),
    reasoning: decimalPrice.optional(),
  })
  .strict();

/** One set of rates and, optionally, its long-context rates. */
const ratePrices = {
  ...tierPrices,
  long_context: longContextPrices
    .optional()
    .describe(
      "the rates of a request whose input is above `above_input_tokens`, for all its tokens; those not given stay",
    ),
};

/**
 * Server tools a vendor bills per call, by the name of the count its usage
 * reports them under (Anthropic's usage.server_tool_use.web_search_requests).
 */
export const SERVER_TOOLS = ["web_search"] as const;
export type ServerTool = (typeof SERVER_TOOLS)[number];

/** The tiers a card prices apart from its own (standard) rates. */
export const PRICED_TIERS = SERVICE_TIERS.filter(
  (tier): tier is Exclude<ServiceTier, "standard"> => tier !== "standard",
);
export type PricedTier = (typeof PRICED_TIERS)[number];

/** The token prices of a card (and of a contract's own prices per model). */
export const cardPrices = {
  ...ratePrices,
  per_call: z
    .partialRecord(z.enum(SERVER_TOOLS), decimalFee)
    .optional()
    .describe(
      "USD per server tool call (web_search: per search), whatever the tier or context length; a call of a tool not here costs nothing apart",
    ),
  service_tiers: z
    .partialRecord(z.enum(PRICED_TIERS), z.object(ratePrices).strict())
    .optional()
    .describe(
      "rates of the batch, flex and priority tiers, each a whole set of prices with the card's defaults (cached_input and cache_write: that tier's input; reasoning: its output; per_request: 0); the card's own rates are the standard tier",
    ),
};

export const priceCatalogFile = z.object({
  version: z
    .string()
    .min(1)
    .describe("the catalog's version; a card's version defaults to it (see `version` below)"),
  currency: z.literal("USD"),
  unit: z.literal("per_million_tokens"),
  prices: z.array(
    z.object({
      vendor: z.string().min(1),
      model: z.string().min(1),
      version: z
        .string()
        .min(1)
        .max(256)
        .optional()
        .describe("stamped on each cost computed with this card; see cardVersion()"),
      effective_from: instant.optional().describe("inclusive; unset = since always"),
      effective_to: instant.optional().describe("exclusive; unset = until replaced"),
      ...cardPrices,
    }),
  ),
});

export type PriceCatalogFile = z.infer<typeof priceCatalogFile>;

/** Usage as pricing reads it: the neutral meaning (neutral.ts); the optional parts default to 0. */
export type TokenUsage = Pick<
  NormalizedUsage,
  "inputTokens" | "cachedInputTokens" | "outputTokens"
> &
  Partial<Pick<NormalizedUsage, "cacheWriteInputTokens" | "reasoningTokens">> & {
    /** The part of the cache writes that lives an hour; the rest lives five minutes. */
    cacheWrite1hInputTokens?: number;
    /** Server tool calls the vendor counted, by tool; each billed at the card's per_call fee. */
    serverToolCalls?: Partial<Record<ServerTool, number>>;
  };

export interface Prices<T> {
  input: T;
  cachedInput: T;
  cacheWrite: T;
  cacheWrite1h: T;
  output: T;
  reasoning: T;
}

/** The prices of one card or one contracted model, quoted and scaled. */
export interface Rates {
  /** Per-million prices as written. */
  quoted: Prices<string>;
  /** Per-million prices × 10^12. */
  scaled: Prices<bigint>;
  /** USD per request as written, and × 10^18. */
  perRequest: { quoted: string; scaled: bigint };
  /** The rates of the tiers priced apart; a tier not here has none of its own. */
  serviceTiers: Partial<Record<PricedTier, Rates>>;
  /** The rates of a whole request whose input is above `aboveInputTokens`; none when not priced apart. */
  longContext: { aboveInputTokens: number; rates: Rates } | null;
  /** USD per server tool call × 10^18, the card's for every tier and context length. */
  perCall: Partial<Record<ServerTool, { quoted: string; scaled: bigint }>>;
}

/** One effective-dated price card of one vendor's model. */
export interface ModelPrice extends Rates {
  vendor: string;
  model: string;
  /** Stamped on every cost computed with the card (`price_card_version`). */
  version: string;
  /** Epoch ms, inclusive; null = since always. */
  effectiveFrom: number | null;
  /** Epoch ms, exclusive; null = until replaced. */
  effectiveTo: number | null;
}

type PriceEntry = z.input<z.ZodObject<typeof cardPrices>>;

/** `inheritedPerCall`: a tier's or a long-context set's, which is the card's. */
export function ratesOf(entry: PriceEntry, inheritedPerCall?: Rates["perCall"]): Rates {
  const perCall: Rates["perCall"] = inheritedPerCall ?? {};
  if (!inheritedPerCall) {
    for (const tool of SERVER_TOOLS) {
      const fee = entry.per_call?.[tool];
      if (fee !== undefined)
        perCall[tool] = { quoted: fee, scaled: parseDecimal(fee, MONEY_SCALE) };
    }
  }
  const serviceTiers: Partial<Record<PricedTier, Rates>> = {};
  for (const tier of PRICED_TIERS) {
    const prices = entry.service_tiers?.[tier];
    if (prices) serviceTiers[tier] = ratesOf(prices, perCall);
  }
  const quoted: Prices<string> = {
    input: entry.input,
    cachedInput: entry.cached_input ?? entry.input,
    cacheWrite: entry.cache_write ?? entry.input,
    cacheWrite1h: entry.cache_write_1h ?? entry.cache_write ?? entry.input,
    output: entry.output,
    reasoning: entry.reasoning ?? entry.output,
  };
  const perRequest = entry.per_request ?? "0";
  const long = entry.long_context;
  const longContext = long
    ? {
        aboveInputTokens: long.above_input_tokens,
        rates: ratesOf(
          {
            input: long.input ?? quoted.input,
            cached_input: long.cached_input ?? quoted.cachedInput,
            cache_write: long.cache_write ?? quoted.cacheWrite,
            cache_write_1h: long.cache_write_1h ?? quoted.cacheWrite1h,
            output: long.output ?? quoted.output,
            reasoning: long.reasoning ?? quoted.reasoning,
            per_request: perRequest,
          },
          perCall,
        ),
      }
    : null;
  return {
    quoted,
    scaled: {
      input: parseDecimal(quoted.input, PRICE_SCALE),
      cachedInput: parseDecimal(quoted.cachedInput, PRICE_SCALE),
      cacheWrite: parseDecimal(quoted.cacheWrite, PRICE_SCALE),
      cacheWrite1h: parseDecimal(quoted.cacheWrite1h, PRICE_SCALE),
      output: parseDecimal(quoted.output, PRICE_SCALE),
      reasoning: parseDecimal(quoted.reasoning, PRICE_SCALE),
    },
    perRequest: { quoted: perRequest, scaled: parseDecimal(perRequest, MONEY_SCALE) },
    serviceTiers,
    longContext,
    perCall,
  };
}

/**
 * The rates that price a request served at `tier`: the card's own for that
 * tier, its standard rates for `standard`; `missing` when the card has no
 * rates for the tier, and the standard rates stand in (the caller says so in
 * a warning: never a silent standard price for a batch request).
 */
export function ratesAtTier(rates: Rates, tier: ServiceTier): { rates: Rates; missing: boolean } {
  if (tier === "standard") return { rates, missing: false };
  const own = rates.serviceTiers[tier];
  return own ? { rates: own, missing: false } : { rates, missing: true };
}

/**
 * A card's version: its own `version` when given; else the catalog's
 * version, followed by `@` and the card's `effective_from` when it has one
 * ("prices-2026-07@2026-08-01"), so two cards of a model never share one.
 */
export function cardVersion(
  catalogVersion: string,
  entry: { version?: string; effective_from?: string },
): string {
  if (entry.version) return entry.version;
  return entry.effective_from ? `${catalogVersion}@${entry.effective_from}` : catalogVersion;
}

/**
 * Exact cost in USD × 10^18. Input tokens include cache reads and cache
 * writes, each billed at its own rate (the writes that live an hour at theirs,
 * the rest at the 5-minute rate), the rest at the input rate; a request whose
 * input is above a long-context threshold is billed whole at those rates;
 * each server tool call at the card's per-call fee; output
 * tokens include reasoning tokens, billed at the reasoning rate, the rest at
 * the output rate. The per-request fee is added once when any token was used
 * (an attempt the vendor never answered uses none and costs nothing).
 */
export function scaledCost(card: Rates, usage: TokenUsage): bigint {
  // Above the threshold, every token of the request at the long-context rates.
  const rates =
    card.longContext && usage.inputTokens > card.longContext.aboveInputTokens
      ? card.longContext.rates
      : card;
  const cacheWrite = usage.cacheWriteInputTokens ?? 0;
  const cacheWrite1h = Math.min(usage.cacheWrite1hInputTokens ?? 0, cacheWrite);
  const reasoning = usage.reasoningTokens ?? 0;
  const uncachedInput = Math.max(0, usage.inputTokens - usage.cachedInputTokens - cacheWrite);
  const visibleOutput = Math.max(0, usage.outputTokens - reasoning);
  const tokenCost =
    BigInt(uncachedInput) * rates.scaled.input +
    BigInt(usage.cachedInputTokens) * rates.scaled.cachedInput +
    BigInt(cacheWrite - cacheWrite1h) * rates.scaled.cacheWrite +
    BigInt(cacheWrite1h) * rates.scaled.cacheWrite1h +
    BigInt(visibleOutput) * rates.scaled.output +
    BigInt(reasoning) * rates.scaled.reasoning;
  let callCost = 0n;
  for (const tool of SERVER_TOOLS) {
    const calls = usage.serverToolCalls?.[tool] ?? 0;
    if (calls > 0) callCost += BigInt(calls) * (rates.perCall[tool]?.scaled ?? 0n);
  }
  const usedAny = usage.inputTokens > 0 || usage.outputTokens > 0;
  return tokenCost + callCost + (usedAny ? rates.perRequest.scaled : 0n);
}

export class PriceCatalog {
  readonly version: string;
  /** Cards per vendor/model, sorted by effective_from, never overlapping. */
  private readonly cards = new Map<string, ModelPrice[]>();

  constructor(file: z.input<typeof priceCatalogFile>) {
    this.version = file.version;
    for (const entry of file.prices) {
      const card: ModelPrice = {
        vendor: entry.vendor,
        model: entry.model,
        version: cardVersion(file.version, entry),
        effectiveFrom: entry.effective_from ? instantMs(entry.effective_from) : null,
        effectiveTo: entry.effective_to ? instantMs(entry.effective_to) : null,
        ...ratesOf(entry),
      };
      if (
        card.effectiveFrom !== null &&
        card.effectiveTo !== null &&
        card.effectiveTo <= card.effectiveFrom
      ) {
        throw new Error(
          `price card ${card.vendor}/${card.model} ${card.version}: effective_to is not after effective_from`,
        );
      }
      const key = priceKey(entry.vendor, entry.model);
      const list = this.cards.get(key) ?? [];
      list.push(card);
      this.cards.set(key, list);
    }
    for (const list of this.cards.values()) {
      list.sort((a, b) => (a.effectiveFrom ?? -Infinity) - (b.effectiveFrom ?? -Infinity));
      for (let index = 1; index < list.length; index += 1) {
        const earlier = list[index - 1] as ModelPrice;
        const later = list[index] as ModelPrice;
        if (earlier.effectiveTo === null || later.effectiveFrom === null) {
          throw new Error(
            `price cards ${earlier.version} and ${later.version} of ${later.vendor}/${later.model} overlap: ` +
              "give the earlier an effective_to, or the later an effective_from",
          );
        }
        if (earlier.effectiveTo > later.effectiveFrom) {
          throw new Error(
            `price cards ${earlier.version} and ${later.version} of ${later.vendor}/${later.model} overlap`,
          );
        }
      }
    }
  }

  static load(path: string): PriceCatalog {
    const parsed = priceCatalogFile.safeParse(parseYaml(readFileSync(path, "utf8")));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`price catalog ${path}: ${issue?.path.join(".")}: ${issue?.message}`);
    }
    try {
      return new PriceCatalog(parsed.data);
    } catch (error) {
      throw new Error(`price catalog ${path}: ${(error as Error).message}`);
    }
  }

  /** The card in force at `at` (epoch ms, default now), if any. A Map lookup and a short scan. */
  priceOf(target: RouteTarget, at: number = Date.now()): ModelPrice | undefined {
    const list = this.cards.get(priceKey(target.vendor, target.model));
    if (!list) return undefined;
    for (let index = list.length - 1; index >= 0; index -= 1) {
      const card = list[index] as ModelPrice;
      if (card.effectiveFrom !== null && card.effectiveFrom > at) continue;
      return card.effectiveTo === null || at < card.effectiveTo ? card : undefined;
    }
    return undefined;
  }

  /** Whether any card, at any date, prices this vendor's model. */
  hasAnyCard(target: RouteTarget): boolean {
    return this.cards.has(priceKey(target.vendor, target.model));
  }

  /** The list cost of `usage` on `price` at `tier`, as an exact decimal string. */
  cost(price: ModelPrice, usage: TokenUsage, tier: ServiceTier = "standard"): string {
    return formatDecimal(scaledCost(ratesAtTier(price, tier).rates, usage));
  }
}

/** OpenRouter's pricing shape: USD per single token (and per request), as decimal strings. */
export function perTokenPricing(price: Rates): {
  prompt: string;
  completion: string;
  request: string;
  input_cache_read: string;
  input_cache_write: string;
  internal_reasoning: string;
} {
  return {
    prompt: perUnitPrice(price.quoted.input, TOKENS_PER_QUOTE),
    completion: perUnitPrice(price.quoted.output, TOKENS_PER_QUOTE),
    request: perUnitPrice(price.perRequest.quoted, 1),
    input_cache_read: perUnitPrice(price.quoted.cachedInput, TOKENS_PER_QUOTE),
    input_cache_write: perUnitPrice(price.quoted.cacheWrite, TOKENS_PER_QUOTE),
    internal_reasoning: perUnitPrice(price.quoted.reasoning, TOKENS_PER_QUOTE),
  };
}

function priceKey(vendor: string, model: string): string {
  return `${vendor}\u0000${model}`;
}
