// Importers from the two public price catalogs teams already track: LiteLLM's
// model_prices_and_context_window.json (USD per token as JSON floats) and
// OpenRouter's /api/v1/models (USD per token as decimal strings). Both become
// entries of our catalog: USD per million tokens as decimal strings, and a
// per-request fee in USD where the source has one.
import { formatDecimal, normalizeDecimal, parseDecimal } from "../events/money.ts";

/** One set of prices, as a card or one of its service tiers holds them. */
export interface ImportedRates {
  input: string;
  cached_input?: string;
  cache_write?: string;
  cache_write_1h?: string;
  output: string;
  reasoning?: string;
  /** USD per request, not per million. */
  per_request?: string;
}

/** Rates of a whole request above an input threshold; a rate not given stays. */
export interface ImportedLongContext {
  above_input_tokens: number;
  input?: string;
  cached_input?: string;
  cache_write?: string;
  cache_write_1h?: string;
  output?: string;
}

export interface ImportedPrice extends ImportedRates {
  vendor: string;
  model: string;
  long_context?: ImportedLongContext;
  /** USD per call, not per million. */
  per_call?: { web_search?: string };
  service_tiers?: Partial<Record<"batch" | "flex" | "priority", ImportedRates>>;
}

export interface ImportResult {
  prices: ImportedPrice[];
  /** Prices that had to be rounded or were skipped, and why: never silent. */
  warnings: string[];
}

/** Our catalog's precision: 12 decimal places per million tokens (10^-18 USD per token). */
const PER_MILLION_SCALE = 12;
/** Enough places to hold any per-token price in either catalog before rounding. */
const WORKING_SCALE = 30;

/**
 * A JSON float as the decimal it was written as. JavaScript prints the
 * shortest decimal that reads back as the same float — the literal in the
 * file (2.5e-06 → "0.0000025") — and we expand any exponent exactly.
 */
export function decimalFromFloat(value: number): string {
  if (!Number.isFinite(value) || value < 0) throw new Error(`not a price: ${value}`);
  const [mantissa = "0", exponentText] = value.toString().split("e");
  const exponent = Number(exponentText ?? 0);
  const [whole = "0", fraction = ""] = mantissa.split(".");
  const digits = whole + fraction;
  const pointPosition = whole.length + exponent;
  if (pointPosition <= 0) return `0.${"0".repeat(-pointPosition)}${digits}`;
  if (pointPosition >= digits.length) return digits + "0".repeat(pointPosition - digits.length);
  return `${digits.slice(0, pointPosition)}.${digits.slice(pointPosition)}`;
}

/** USD per token (decimal string) → USD per million tokens, rounded half-even to our precision. */
export function perMillionFromPerToken(perToken: string): { value: string; rounded: boolean } {
  const scaled = parseDecimal(perToken, WORKING_SCALE) * 1_000_000n;
  const divisor = 10n ** BigInt(WORKING_SCALE - PER_MILLION_SCALE);
  let quotient = scaled / divisor;
  const remainder = scaled % divisor;
  if (remainder * 2n > divisor || (remainder * 2n === divisor && quotient % 2n === 1n))
    quotient += 1n;
  return { value: formatDecimal(quotient, PER_MILLION_SCALE), rounded: remainder !== 0n };
}

function convert(perToken: string, field: string, model: string, warnings: string[]): string {
  const { value, rounded } = perMillionFromPerToken(perToken);
  if (rounded) {
    warnings.push(
      `${model} ${field}: ${perToken} per token rounded to ${value} per million tokens`,
    );
  }
  return value;
}

interface LiteLLMEntry {
  litellm_provider?: unknown;
  mode?: unknown;
  input_cost_per_token?: unknown;
  output_cost_per_token?: unknown;
  cache_read_input_token_cost?: unknown;
  cache_creation_input_token_cost?: unknown;
  output_cost_per_reasoning_token?: unknown;
  input_cost_per_request?: unknown;
  [field: string]: unknown;
}

/** LiteLLM's suffix for each service tier a card prices apart. */
const LITELLM_TIER_SUFFIXES = [
  ["batch", "_batches"],
  ["flex", "_flex"],
  ["priority", "_priority"],
] as const;

/** A tier's LiteLLM fields: the standard field's name with the tier's suffix. */
const LITELLM_TIER_RATES = [
  ["input", "input_cost_per_token"],
  ["output", "output_cost_per_token"],
  ["cached_input", "cache_read_input_token_cost"],
  ["cache_write", "cache_creation_input_token_cost"],
] as const;

/** Every LiteLLM price field the import reads; any other is reported, never dropped silently. */
const LITELLM_READ_FIELDS = new Set<string>([
  "input_cost_per_token",
  "output_cost_per_token",
  "cache_read_input_token_cost",
  "cache_creation_input_token_cost",
  "cache_creation_input_token_cost_above_1hr",
  "output_cost_per_reasoning_token",
  "input_cost_per_request",
  ...LITELLM_TIER_SUFFIXES.flatMap(([, suffix]) =>
    LITELLM_TIER_RATES.map(([, field]) => `${field}${suffix}`),
  ),
]);

/** LiteLLM's long-context fields: the standard field's name, then `_above_<N>k_tokens`. */
const LITELLM_LONG_CONTEXT_RATES = [
  ["input", "input_cost_per_token"],
  ["output", "output_cost_per_token"],
  ["cached_input", "cache_read_input_token_cost"],
  ["cache_write", "cache_creation_input_token_cost"],
  ["cache_write_1h", "cache_creation_input_token_cost_above_1hr"],
] as const;

/**
 * The long-context rates LiteLLM has for one entry, at its one threshold
 * (`_above_200k_tokens`: above 200,000 input tokens), and the fields read.
 * An entry with two thresholds gets the lowest; the other's fields stay
 * unread, and so reported.
 */
function liteLLMLongContext(
  raw: LiteLLMEntry,
  key: string,
  warnings: string[],
): { longContext?: ImportedLongContext; read: string[] } {
  const thresholds = new Set<number>();
  for (const field of Object.keys(raw)) {
    const match = /_above_(\d+)k_tokens$/.exec(field);
    if (match && LITELLM_LONG_CONTEXT_RATES.some(([, base]) => field.startsWith(`${base}_above_`)))
      thresholds.add(Number(match[1]));
  }
  if (thresholds.size === 0) return { read: [] };
  const thousands = Math.min(...thresholds);
  const longContext: ImportedLongContext = { above_input_tokens: thousands * 1000 };
  const read: string[] = [];
  for (const [field, base] of LITELLM_LONG_CONTEXT_RATES) {
    const name = `${base}_above_${thousands}k_tokens`;
    const perToken = raw[name];
    if (typeof perToken !== "number") continue;
    longContext[field] = convert(
      decimalFromFloat(perToken),
      `long-context ${field}`,
      key,
      warnings,
    );
    read.push(name);
  }
  return { longContext, read };
}

/**
 * LiteLLM's web search price, per query by search context size: one fee when
 * every size costs the same (Anthropic's 0.01), which a card holds; else
 * reported, and not imported.
 */
function liteLLMWebSearchFee(
  raw: LiteLLMEntry,
  key: string,
  warnings: string[],
): string | undefined {
  const bySize = raw.search_context_cost_per_query;
  if (typeof bySize !== "object" || bySize === null) return undefined;
  const fees = Object.values(bySize).filter((fee): fee is number => typeof fee === "number");
  const [first] = fees;
  if (first === undefined) return undefined;
  if (fees.some((fee) => fee !== first)) {
    warnings.push(
      `${key}: search_context_cost_per_query differs by search context size (${JSON.stringify(bySize)}), which a card cannot express yet; not imported`,
    );
    return undefined;
  }
  return decimalFromFloat(first);
}

/** A LiteLLM field that prices something: a rate per token, request, image, second, … */
function isPriceField(field: string): boolean {
  return /(_cost|cost_per)/.test(field);
}

/**
 * The batch, flex and priority rates LiteLLM has for one entry. A tier needs
 * an input and an output rate; one with only some is reported and skipped.
 */
function liteLLMServiceTiers(
  raw: LiteLLMEntry,
  key: string,
  warnings: string[],
): ImportedPrice["service_tiers"] {
  const tiers: NonNullable<ImportedPrice["service_tiers"]> = {};
  for (const [tier, suffix] of LITELLM_TIER_SUFFIXES) {
    const present = LITELLM_TIER_RATES.filter(
      ([, field]) => typeof raw[`${field}${suffix}`] === "number",
    );
    if (present.length === 0) continue;
    const input = raw[`input_cost_per_token${suffix}`];
    const output = raw[`output_cost_per_token${suffix}`];
    if (typeof input !== "number" || typeof output !== "number") {
      warnings.push(
        `${key}: ${tier} tier has ${present.map(([, field]) => `${field}${suffix}`).join(", ")} but no input and output rate of its own; tier not imported`,
      );
      continue;
    }
    const rates: ImportedRates = {
      input: convert(decimalFromFloat(input), `${tier} input`, key, warnings),
      output: convert(decimalFromFloat(output), `${tier} output`, key, warnings),
    };
    for (const [field, liteLLMField] of LITELLM_TIER_RATES) {
      const perToken = raw[`${liteLLMField}${suffix}`];
      if ((field === "cached_input" || field === "cache_write") && typeof perToken === "number") {
        rates[field] = convert(decimalFromFloat(perToken), `${tier} ${field}`, key, warnings);
      }
    }
    tiers[tier] = rates;
  }
  return Object.keys(tiers).length > 0 ? tiers : undefined;
}

/** Our optional per-token rates and the LiteLLM field each comes from. */
const LITELLM_OPTIONAL_RATES = [
  ["cached_input", "cache_read_input_token_cost"],
  ["cache_write", "cache_creation_input_token_cost"],
  ["cache_write_1h", "cache_creation_input_token_cost_above_1hr"],
  ["reasoning", "output_cost_per_reasoning_token"],
] as const;

/**
 * Imports the chat models of one LiteLLM provider (`openai`, `anthropic`,
 * `gemini`, …) as prices of our vendor `vendor`. The model name is LiteLLM's
 * key without the provider prefix some keys carry ("gemini/gemini-2.0-flash").
 */
export function fromLiteLLMCatalog(
  catalog: unknown,
  provider: string,
  vendor: string,
): ImportResult {
  const result: ImportResult = { prices: [], warnings: [] };
  const keysByModel = new Map<string, string>();
  for (const [key, raw] of Object.entries(catalog as Record<string, LiteLLMEntry>)) {
    if (typeof raw !== "object" || raw === null || raw.litellm_provider !== provider) continue;
    if (raw.mode !== "chat") continue;
    const model = key.startsWith(`${provider}/`) ? key.slice(provider.length + 1) : key;
    if (
      typeof raw.input_cost_per_token !== "number" ||
      typeof raw.output_cost_per_token !== "number"
    ) {
      result.warnings.push(`${key}: no input or output price; skipped`);
      continue;
    }
    const price: ImportedPrice = {
      vendor,
      model,
      input: convert(decimalFromFloat(raw.input_cost_per_token), "input", key, result.warnings),
      output: convert(decimalFromFloat(raw.output_cost_per_token), "output", key, result.warnings),
    };
    for (const [field, liteLLMField] of LITELLM_OPTIONAL_RATES) {
      const perToken = raw[liteLLMField];
      if (typeof perToken === "number") {
        price[field] = convert(decimalFromFloat(perToken), field, key, result.warnings);
      }
    }
    if (typeof raw.input_cost_per_request === "number" && raw.input_cost_per_request > 0) {
      price.per_request = decimalFromFloat(raw.input_cost_per_request);
    }
    const serviceTiers = liteLLMServiceTiers(raw, key, result.warnings);
    if (serviceTiers) price.service_tiers = serviceTiers;
    const long = liteLLMLongContext(raw, key, result.warnings);
    if (long.longContext) price.long_context = long.longContext;
    const webSearch = liteLLMWebSearchFee(raw, key, result.warnings);
    if (webSearch !== undefined) price.per_call = { web_search: webSearch };
    const unread = Object.keys(raw).filter(
      (field) =>
        isPriceField(field) &&
        !LITELLM_READ_FIELDS.has(field) &&
        !long.read.includes(field) &&
        field !== "search_context_cost_per_query",
    );
    if (unread.length > 0) {
      result.warnings.push(
        `${key}: ${unread.join(", ")} not expressible on a price card yet; not imported`,
      );
    }
    // "gemini/x" and "x" can both be the provider's model x, at different prices:
    // one card per model, the key naming the provider wins, and the other is reported.
    const earlier = keysByModel.get(model);
    if (earlier !== undefined) {
      const keepNew = key.startsWith(`${provider}/`) && !earlier.startsWith(`${provider}/`);
      result.warnings.push(
        `${keepNew ? earlier : key}: same model as ${keepNew ? key : earlier}; skipped in its favour`,
      );
      if (!keepNew) continue;
      result.prices = result.prices.filter((each) => each.model !== model);
    }
    keysByModel.set(model, key);
    result.prices.push(price);
  }
  return result;
}

interface OpenRouterModel {
  id?: unknown;
  pricing?: {
    prompt?: unknown;
    completion?: unknown;
    input_cache_read?: unknown;
    input_cache_write?: unknown;
    internal_reasoning?: unknown;
    request?: unknown;
  };
}

/**
 * Imports OpenRouter's models list (the bare array, or `{data: [...]}`) as
 * prices of our vendor `vendor` (OpenRouter itself, reached over its
 * OpenAI-compatible API); the model is OpenRouter's id ("openai/gpt-4o").
 * Variable-priced routers (a price of "-1") are skipped with a warning.
 * `internal_reasoning` and `request` of "0" mean none billed apart: reasoning
 * is then billed as output, and no per-request fee.
 */
export function fromOpenRouterModels(models: unknown, vendor: string): ImportResult {
  const result: ImportResult = { prices: [], warnings: [] };
  const list = Array.isArray(models) ? models : ((models as { data?: unknown[] })?.data ?? []);
  for (const raw of list as OpenRouterModel[]) {
    const id = String(raw.id);
    const { prompt, completion, input_cache_read, input_cache_write, internal_reasoning, request } =
      raw.pricing ?? {};
    if (
      typeof prompt !== "string" ||
      typeof completion !== "string" ||
      !/^\d/.test(prompt) ||
      !/^\d/.test(completion)
    ) {
      result.warnings.push(
        `${id}: no fixed prompt and completion price (${prompt}, ${completion}); skipped`,
      );
      continue;
    }
    const price: ImportedPrice = {
      vendor,
      model: id,
      input: convert(prompt, "input", id, result.warnings),
      output: convert(completion, "output", id, result.warnings),
    };
    if (typeof input_cache_read === "string")
      price.cached_input = convert(input_cache_read, "cached_input", id, result.warnings);
    if (typeof input_cache_write === "string")
      price.cache_write = convert(input_cache_write, "cache_write", id, result.warnings);
    if (isPositiveDecimal(internal_reasoning))
      price.reasoning = convert(internal_reasoning, "reasoning", id, result.warnings);
    if (isPositiveDecimal(request)) price.per_request = normalizeDecimal(request);
    result.prices.push(price);
  }
  return result;
}

function isPositiveDecimal(value: unknown): value is string {
  return typeof value === "string" && /^\d+(\.\d+)?$/.test(value) && /[1-9]/.test(value);
}
