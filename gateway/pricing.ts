import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import {
  DECIMAL_STRING_PATTERN,
  formatDecimal,
  parseDecimal,
  perUnitPrice,
} from "../events/money.ts";
import type { RouteTarget } from "./config.ts";
import type { NormalizedUsage } from "./neutral.ts";

// Prices are quoted in USD per million tokens, as vendors publish them, and
// held as integers scaled by 10^12. tokens × that integer is then the cost
// scaled by 10^18 (the money scale of events/money.ts), with no rounding.
const PRICE_SCALE = 12;
const TOKENS_PER_QUOTE = 1_000_000;

const decimalPrice = z
  .string()
  .regex(DECIMAL_STRING_PATTERN, 'a decimal string such as "0.15"')
  .refine((text) => (text.split(".")[1] ?? "").replace(/0+$/, "").length <= PRICE_SCALE, {
    message: `at most ${PRICE_SCALE} decimal places`,
  });

export const priceCatalogFile = z.object({
  version: z.string().min(1).describe("stamped on every cost computed with this catalog"),
  currency: z.literal("USD"),
  unit: z.literal("per_million_tokens"),
  prices: z.array(
    z.object({
      vendor: z.string().min(1),
      model: z.string().min(1),
      input: decimalPrice,
      cached_input: decimalPrice.optional().describe("cache reads; defaults to the input price"),
      cache_write: decimalPrice.optional().describe("cache writes; defaults to the input price"),
      output: decimalPrice,
      reasoning: decimalPrice.optional().describe("reasoning tokens; defaults to the output price"),
    }),
  ),
});

/** Usage as pricing reads it: the neutral meaning (neutral.ts); the optional parts default to 0. */
export type TokenUsage = Pick<
  NormalizedUsage,
  "inputTokens" | "cachedInputTokens" | "outputTokens"
> &
  Partial<Pick<NormalizedUsage, "cacheWriteInputTokens" | "reasoningTokens">>;

interface Prices<T> {
  input: T;
  cachedInput: T;
  cacheWrite: T;
  output: T;
  reasoning: T;
}

export interface ModelPrice {
  vendor: string;
  model: string;
  /** Per-million prices as written in the catalog. */
  quoted: Prices<string>;
  scaled: Prices<bigint>;
}

export class PriceCatalog {
  readonly version: string;
  private readonly prices = new Map<string, ModelPrice>();

  constructor(file: z.infer<typeof priceCatalogFile>) {
    this.version = file.version;
    for (const entry of file.prices) {
      const quoted: Prices<string> = {
        input: entry.input,
        cachedInput: entry.cached_input ?? entry.input,
        cacheWrite: entry.cache_write ?? entry.input,
        output: entry.output,
        reasoning: entry.reasoning ?? entry.output,
      };
      this.prices.set(priceKey(entry.vendor, entry.model), {
        vendor: entry.vendor,
        model: entry.model,
        quoted,
        scaled: {
          input: parseDecimal(quoted.input, PRICE_SCALE),
          cachedInput: parseDecimal(quoted.cachedInput, PRICE_SCALE),
          cacheWrite: parseDecimal(quoted.cacheWrite, PRICE_SCALE),
          output: parseDecimal(quoted.output, PRICE_SCALE),
          reasoning: parseDecimal(quoted.reasoning, PRICE_SCALE),
        },
      });
    }
  }

  static load(path: string): PriceCatalog {
    const parsed = priceCatalogFile.safeParse(parseYaml(readFileSync(path, "utf8")));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`price catalog ${path}: ${issue?.path.join(".")}: ${issue?.message}`);
    }
    return new PriceCatalog(parsed.data);
  }

  priceOf(target: RouteTarget): ModelPrice | undefined {
    return this.prices.get(priceKey(target.vendor, target.model));
  }

  /**
   * Exact cost in USD. Input tokens include cache reads and cache writes,
   * each billed at its own rate, the rest at the input rate; output tokens
   * include reasoning tokens, billed at the reasoning rate, the rest at the
   * output rate.
   */
  cost(price: ModelPrice, usage: TokenUsage): string {
    const cacheWrite = usage.cacheWriteInputTokens ?? 0;
    const reasoning = usage.reasoningTokens ?? 0;
    const uncachedInput = Math.max(0, usage.inputTokens - usage.cachedInputTokens - cacheWrite);
    const visibleOutput = Math.max(0, usage.outputTokens - reasoning);
    const scaledCost =
      BigInt(uncachedInput) * price.scaled.input +
      BigInt(usage.cachedInputTokens) * price.scaled.cachedInput +
      BigInt(cacheWrite) * price.scaled.cacheWrite +
      BigInt(visibleOutput) * price.scaled.output +
      BigInt(reasoning) * price.scaled.reasoning;
    return formatDecimal(scaledCost);
  }
}

/** OpenRouter's pricing shape: USD per single token, as decimal strings. */
export function perTokenPricing(price: ModelPrice): {
  prompt: string;
  completion: string;
  input_cache_read: string;
  input_cache_write: string;
  internal_reasoning: string;
} {
  return {
    prompt: perUnitPrice(price.quoted.input, TOKENS_PER_QUOTE),
    completion: perUnitPrice(price.quoted.output, TOKENS_PER_QUOTE),
    input_cache_read: perUnitPrice(price.quoted.cachedInput, TOKENS_PER_QUOTE),
    input_cache_write: perUnitPrice(price.quoted.cacheWrite, TOKENS_PER_QUOTE),
    internal_reasoning: perUnitPrice(price.quoted.reasoning, TOKENS_PER_QUOTE),
  };
}

function priceKey(vendor: string, model: string): string {
  return `${vendor}\u0000${model}`;
}
