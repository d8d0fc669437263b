// OpenRouter's request extensions in an OpenAI chat body: `models`, a
// fallback list of further models, and `provider`, preferences over which
// vendors serve the request. Read and checked here (a bad value is a 400
// naming the param), then taken out of the body: no vendor ever sees them.
// Provider slugs are the operator's vendor ids.
import { z } from "zod";
import { DECIMAL_STRING_PATTERN, parseDecimal } from "../../events/money.ts";
import { GatewayError } from "../errors.ts";
import { formatParameterPath } from "../inbound/inbound-api.ts";
import { truncated } from "../reflected-text.ts";

/** Prices per million tokens, scaled by 10^12 like the price catalog's. */
export const PRICE_SCALE = 12;

export type ProviderSort = "price" | "latency" | "throughput";

export interface ProviderPreferences {
  order: readonly string[] | null;
  only: ReadonlySet<string> | null;
  ignore: ReadonlySet<string> | null;
  allowFallbacks: boolean;
  sort: ProviderSort | null;
  /** USD per million tokens, scaled by 10^12; null where not limited. */
  maxPrice: { prompt: bigint | null; completion: bigint | null } | null;
  dataCollection: "allow" | "deny";
  zdr: boolean;
}

export interface RequestExtensions {
  models: readonly string[] | null;
  provider: ProviderPreferences | null;
  /** Fields of `provider` the gateway does not honour, each a sentence. */
  warnings: string[];
  /** The body without `models` and `provider`, for the vendors. */
  body: Record<string, unknown>;
}

const price = z.union([
  z.number().nonnegative(),
  z.string().regex(DECIMAL_STRING_PATTERN, 'a decimal string such as "1.5"'),
]);
/** As long as the events' vendor and model ids may be (events/schemas.ts). */
const identifier = z.string().min(1).max(256);
const slugs = z.array(identifier).max(64);

const providerSchema = z.looseObject({
  order: slugs.nullish(),
  only: slugs.nullish(),
  ignore: slugs.nullish(),
  allow_fallbacks: z.boolean().nullish(),
  sort: z
    .union([
      z.enum(["price", "latency", "throughput"]),
      z.looseObject({ by: z.enum(["price", "latency", "throughput"]) }),
    ])
    .nullish(),
  max_price: z.looseObject({ prompt: price.nullish(), completion: price.nullish() }).nullish(),
  data_collection: z.enum(["allow", "deny"]).nullish(),
  zdr: z.boolean().nullish(),
});

const KNOWN_PROVIDER_FIELDS = new Set(Object.keys(providerSchema.shape));
const HONOURED_MAX_PRICE_FIELDS = new Set(["prompt", "completion"]);

const modelsSchema = z.array(identifier).min(1).max(16);

/**
 * Unknown fields each get a warning up to this many; the rest are counted in
 * one more. The names are the client's: each is truncated (reflected-text.ts).
 */
const MAX_NAMED_UNKNOWN_FIELDS = 8;

/**
 * `models` and `provider` read out of an OpenAI chat body; null when the body
 * has neither (nearly every request: nothing is allocated then).
 */
export function takeExtensions(body: Record<string, unknown>): RequestExtensions | null {
  const rawModels = body.models;
  const rawProvider = body.provider;
  if (rawModels === undefined && rawProvider === undefined) return null;
  const { models: _models, provider: _provider, ...rest } = body;
  const warnings: string[] = [];
  return {
    models: rawModels === undefined || rawModels === null ? null : parseModels(rawModels),
    provider:
      rawProvider === undefined || rawProvider === null
        ? null
        : parseProvider(rawProvider, warnings),
    warnings,
    body: rest,
  };
}

function parseModels(raw: unknown): readonly string[] {
  return checked(modelsSchema, raw, "models");
}

export function parseProvider(raw: unknown, warnings: string[] = []): ProviderPreferences {
  const provider = checked(providerSchema, raw, "provider");
  warnIgnored("provider", Object.keys(provider), KNOWN_PROVIDER_FIELDS, warnings);
  warnIgnored(
    "provider.max_price",
    Object.keys(provider.max_price ?? {}),
    HONOURED_MAX_PRICE_FIELDS,
    warnings,
  );
  const sort = provider.sort ?? null;
  const maxPrice = provider.max_price;
  return {
    order: provider.order ?? null,
    only: provider.only ? new Set(provider.only) : null,
    ignore: provider.ignore ? new Set(provider.ignore) : null,
    allowFallbacks: provider.allow_fallbacks ?? true,
    sort: sort === null ? null : typeof sort === "string" ? sort : sort.by,
    maxPrice: maxPrice
      ? {
          prompt: scaledPrice(maxPrice.prompt, "provider.max_price.prompt"),
          completion: scaledPrice(maxPrice.completion, "provider.max_price.completion"),
        }
      : null,
    dataCollection: provider.data_collection ?? "allow",
    zdr: provider.zdr ?? false,
  };
}

/** One warning per field of `fields` not in `honoured`, bounded in number and length. */
function warnIgnored(
  parent: string,
  fields: readonly string[],
  honoured: ReadonlySet<string>,
  warnings: string[],
): void {
  let ignored = 0;
  for (const field of fields) {
    if (honoured.has(field)) continue;
    ignored += 1;
    if (ignored <= MAX_NAMED_UNKNOWN_FIELDS) {
      warnings.push(
        `${parent}.${truncated(field)} is not supported by this gateway; it was ignored`,
      );
    }
  }
  if (ignored > MAX_NAMED_UNKNOWN_FIELDS) {
    warnings.push(
      `${ignored - MAX_NAMED_UNKNOWN_FIELDS} more fields of ${parent} are not supported by this gateway; they were ignored`,
    );
  }
}

function scaledPrice(value: number | string | null | undefined, param: string): bigint | null {
  if (value === undefined || value === null) return null;
  const text = typeof value === "string" ? value : decimalOfNumber(value);
  try {
    return parseDecimal(text, PRICE_SCALE);
  } catch {
    throw new GatewayError(
      "invalid_request",
      `Invalid value for '${param}': at most ${PRICE_SCALE} decimal places (USD per million tokens).`,
      { param },
    );
  }
}

/** A JSON number as plain decimal text: 1e-7 becomes "0.0000001". */
function decimalOfNumber(value: number): string {
  const text = String(value);
  return text.includes("e") ? value.toFixed(20).replace(/\.?0+$/, "") : text;
}

function checked<T extends z.ZodType>(schema: T, raw: unknown, root: string): z.infer<T> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = formatParameterPath([root, ...(issue?.path ?? [])]);
  throw new GatewayError(
    "invalid_request",
    `Invalid value for '${param}': ${issue?.message ?? "invalid"}`,
    { param },
  );
}
