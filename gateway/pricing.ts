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
      cached_input: decimalPrice.optional().describe("defaults to the input price"),
      output: decimalPrice,
    }),
  ),
});

export interface TokenUsage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
}

export interface ModelPrice {
  vendor: string;
  model: string;
  /** Per-million prices as written in the catalog. */
  quoted: { input: string; cachedInput: string; output: string };
  scaled: { input: bigint; cachedInput: bigint; output: bigint };
}

export class PriceCatalog {
  readonly version: string;
  private readonly prices = new Map<string, ModelPrice>();

  constructor(file: z.infer<typeof priceCatalogFile>) {
    this.version = file.version;
    for (const entry of file.prices) {
      const cachedInput = entry.cached_input ?? entry.input;
      this.prices.set(priceKey(entry.vendor, entry.model), {
        vendor: entry.vendor,
        model: entry.model,
        quoted: { input: entry.input, cachedInput, output: entry.output },
        scaled: {
          input: parseDecimal(entry.input, PRICE_SCALE),
          cachedInput: parseDecimal(cachedInput, PRICE_SCALE),
          output: parseDecimal(entry.output, PRICE_SCALE),
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

  /** Exact cost in USD; input_tokens include the cached ones, which are billed at the cached rate. */
  cost(price: ModelPrice, usage: TokenUsage): string {
    const uncachedInput = BigInt(Math.max(0, usage.inputTokens - usage.cachedInputTokens));
    const scaledCost =
      uncachedInput * price.scaled.input +
      BigInt(usage.cachedInputTokens) * price.scaled.cachedInput +
      BigInt(usage.outputTokens) * price.scaled.output;
    return formatDecimal(scaledCost);
  }
}

/** OpenRouter's pricing shape: USD per single token, as decimal strings. */
export function perTokenPricing(price: ModelPrice): {
  prompt: string;
  completion: string;
  input_cache_read: string;
} {
  return {
    prompt: perUnitPrice(price.quoted.input, TOKENS_PER_QUOTE),
    completion: perUnitPrice(price.quoted.output, TOKENS_PER_QUOTE),
    input_cache_read: perUnitPrice(price.quoted.cachedInput, TOKENS_PER_QUOTE),
  };
}

function priceKey(vendor: string, model: string): string {
  return `${vendor}\u0000${model}`;
}
