import { z } from "zod";
import { commitmentConfig } from "./commitment-config.ts";
import { cardPrices, instant, instantMs } from "./pricing.ts";
import { checkRoutingNames, routingConfig } from "./routing/routing-config.ts";
import {
  OPENAI_COMPATIBLE_PRESETS,
  OPENAI_COMPATIBLE_PROTOCOLS,
  type OpenAICompatibleProtocol,
} from "./vendors/openai-compatible-presets.ts";

const identifier = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "lowercase letters, digits, . _ -");

// Fields every vendor has, whatever protocol it speaks.
const vendorCommon = {
  id: identifier,
  api_key_env: z.string().optional().describe("environment variable holding the vendor's key"),
  api_key: z
    .string()
    .optional()
    .describe("the key itself; only for local simulators, prefer api_key_env"),
  connect_timeout_ms: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("per attempt: opening the connection (default 10000)"),
  first_byte_timeout_ms: z.number().int().positive().default(30_000),
  total_timeout_ms: z.number().int().positive().default(600_000),
  max_connections: z.number().int().positive().default(256),
  // Attributes that routing reads as hard constraints (provider.zdr,
  // provider.data_collection, a list's `require`).
  zdr: z.boolean().optional().describe("the vendor retains no data (zero data retention)"),
  data_collection: z
    .enum(["allow", "deny"])
    .optional()
    .describe("whether the vendor may store or train on requests (default allow)"),
  region: z.string().min(1).optional().describe("where the vendor serves from, e.g. eu, us"),
};

const openAICompatibleVendor = z.object({
  ...vendorCommon,
  protocol: z.enum(OPENAI_COMPATIBLE_PROTOCOLS),
  base_url: z
    .url()
    .optional()
    .describe("up to and including /v1; defaults to the vendor's public API where it has one"),
});

const azureOpenAIVendor = z.object({
  ...vendorCommon,
  protocol: z.literal("azure-openai"),
  base_url: z.url().describe("the resource endpoint, e.g. https://my-resource.openai.azure.com"),
  api_version: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, "an Azure api-version such as 2024-10-21")
    .describe("sent as ?api-version=; route models are deployment names"),
});

const anthropicVendor = z.object({
  ...vendorCommon,
  protocol: z.literal("anthropic"),
  base_url: z.url().default("https://api.anthropic.com/v1"),
  anthropic_version: z.string().min(1).default("2023-06-01"),
  default_max_tokens: z
    .number()
    .int()
    .positive()
    .default(4096)
    .describe("Anthropic requires max_tokens; used (with a warning) when a client sends none"),
});

const geminiVendor = z.object({
  ...vendorCommon,
  protocol: z.literal("gemini"),
  base_url: z.url().default("https://generativelanguage.googleapis.com/v1beta"),
});

export const vendorConfig = z
  .discriminatedUnion("protocol", [
    openAICompatibleVendor,
    azureOpenAIVendor,
    anthropicVendor,
    geminiVendor,
  ])
  .superRefine((vendor, context) => {
    if (vendor.base_url === undefined && baseUrlDefault(vendor.protocol) === null) {
      context.addIssue({
        code: "custom",
        path: ["base_url"],
        message: `protocol ${vendor.protocol} has no public API: base_url is required`,
      });
    }
  })
  .transform((vendor) => ({
    ...vendor,
    base_url: vendor.base_url ?? (baseUrlDefault(vendor.protocol) as string),
  }));

function baseUrlDefault(protocol: string): string | null {
  const preset = OPENAI_COMPATIBLE_PRESETS[protocol as OpenAICompatibleProtocol];
  return preset ? preset.defaultBaseUrl : null;
}

export const routeTarget = z.object({ vendor: identifier, model: z.string().min(1) });

export const routeConfig = z.object({
  model: z.string().min(1).describe("the name clients send as `model`"),
  fallback: z.array(routeTarget).min(1).describe("tried in order until one answers"),
});

export const apiKeyConfig = z.object({
  id: z.string().min(1).max(256).describe("a name for the key, safe to log; key_id in events"),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "hex SHA-256 of the key")
    .describe("echo -n $KEY | sha256sum"),
  tenant: z.string().min(1),
  team: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .describe("the team the key belongs to: team in events, and team budgets"),
  tags: z
    .array(z.string().min(1).max(64))
    .max(20)
    .default([])
    .describe("copied into every request_completed event of the key"),
  store_prompt_hash: z
    .boolean()
    .default(false)
    .describe("put the SHA-256 of the prompt in request_completed (README, Privacy)"),
});

/** A vendor contract: a discount on list prices, or its own prices per model, for a time. */
export const contractConfig = z
  .object({
    id: identifier.describe("contract_id in events"),
    vendor: identifier,
    effective_from: instant.describe("inclusive: 2026-01-01 is midnight UTC"),
    effective_to: instant.optional().describe("exclusive; unset = open-ended"),
    discount_percent: z
      .string()
      .regex(/^\d{1,3}(\.\d{1,6})?$/, 'a percentage such as "12.5", at most 6 decimal places')
      .refine((text) => Number(text) <= 100, { message: "at most 100" })
      .optional()
      .describe("off list cost, for every model of the vendor the prices below do not name"),
    prices: z
      .array(z.object({ model: z.string().min(1), ...cardPrices }))
      .optional()
      .describe("contracted per-million prices per model, in place of list prices"),
    commitment: commitmentConfig
      .optional()
      .describe("a committed spend over a term (GET /v1/commitments measures it)"),
  })
  .refine((contract) => contract.discount_percent !== undefined || contract.prices?.length, {
    message: "a contract needs discount_percent or prices",
  })
  .refine(
    (contract) =>
      contract.effective_to === undefined ||
      instantMs(contract.effective_to) > instantMs(contract.effective_from),
    { message: "effective_to must be after effective_from", path: ["effective_to"] },
  );

const budgetAmount = z
  .string()
  .regex(/^\d+(\.\d{1,18})?$/, 'a decimal string such as "100" or "2.5"');

/** A spending limit for one key or one team over a UTC calendar day or month. */
export const budgetConfig = z
  .object({
    id: identifier.describe("budget_id in budget_alerted events"),
    scope: z.enum(["key", "team"]),
    scope_id: z.string().min(1).max(256).describe("the key's id, or the team's name"),
    unit: z.enum(["usd", "tokens"]).describe("usd: cost_usd; tokens: input + output tokens"),
    period: z.enum(["day", "month"]).describe("UTC calendar periods"),
    soft_limit: budgetAmount.optional().describe("publish budget_alerted (soft) once per period"),
    hard_limit: budgetAmount.optional().describe("refuse requests with 429 until the period ends"),
  })
  .refine((budget) => budget.soft_limit !== undefined || budget.hard_limit !== undefined, {
    message: "a budget needs soft_limit or hard_limit",
  })
  .refine((budget) => budget.unit === "usd" || isWhole(budget.soft_limit, budget.hard_limit), {
    message: "token limits are whole numbers",
  });

function isWhole(...amounts: (string | undefined)[]): boolean {
  return amounts.every((amount) => amount === undefined || !amount.includes("."));
}

export const gatewayConfig = z
  .object({
    host: z.string().default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(8080),
    body_limit_bytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024),
    price_catalog: z.string().describe("path of the price catalog file, relative to the config"),
    vendors: z.array(vendorConfig),
    routes: z
      .array(routeConfig)
      .default([])
      .describe("the older form of an alias: a model name and its ordered fallback list"),
    routing: routingConfig.prefault({}),
    api_keys: z.array(apiKeyConfig).min(1),
    refuse_unpriced: z
      .boolean()
      .default(false)
      .describe("refuse a request to a model with no price card, before any upstream call"),
    contracts: z.array(contractConfig).default([]),
    budgets: z.array(budgetConfig).default([]),
  })
  .superRefine((config, context) => {
    const vendorIds = new Set<string>();
    config.vendors.forEach((vendor, index) => {
      if (vendorIds.has(vendor.id)) {
        context.addIssue({
          code: "custom",
          path: ["vendors", index, "id"],
          message: `duplicate vendor ${vendor.id}`,
        });
      }
      vendorIds.add(vendor.id);
    });
    const keyIds = new Set<string>();
    const teams = new Set<string>();
    config.api_keys.forEach((key, index) => {
      if (keyIds.has(key.id)) {
        context.addIssue({
          code: "custom",
          path: ["api_keys", index, "id"],
          message: `duplicate key id ${key.id}`,
        });
      }
      keyIds.add(key.id);
      if (key.team) teams.add(key.team);
    });
    const budgetIds = new Set<string>();
    config.budgets.forEach((budget, index) => {
      if (budgetIds.has(budget.id)) {
        context.addIssue({
          code: "custom",
          path: ["budgets", index, "id"],
          message: `duplicate budget ${budget.id}`,
        });
      }
      budgetIds.add(budget.id);
      const known = budget.scope === "key" ? keyIds : teams;
      if (!known.has(budget.scope_id)) {
        context.addIssue({
          code: "custom",
          path: ["budgets", index, "scope_id"],
          message: `no api key ${budget.scope === "key" ? "with id" : "in team"} "${budget.scope_id}"`,
        });
      }
    });
    config.contracts.forEach((contract, index) => {
      if (!vendorIds.has(contract.vendor)) {
        context.addIssue({
          code: "custom",
          path: ["contracts", index, "vendor"],
          message: `unknown vendor "${contract.vendor}"`,
        });
      }
    });
    config.routes.forEach((route, routeIndex) => {
      route.fallback.forEach((target, targetIndex) => {
        if (!vendorIds.has(target.vendor)) {
          context.addIssue({
            code: "custom",
            path: ["routes", routeIndex, "fallback", targetIndex, "vendor"],
            message: `unknown vendor "${target.vendor}"`,
          });
        }
      });
    });
    checkRoutingNames(config.routing, config.routes, vendorIds, context);
  });

export type VendorConfig = z.infer<typeof vendorConfig>;
export type RouteTarget = z.infer<typeof routeTarget>;
export type GatewayConfig = z.infer<typeof gatewayConfig>;
export type ApiKeyConfig = z.infer<typeof apiKeyConfig>;
export type ContractConfig = z.infer<typeof contractConfig>;
export type BudgetConfig = z.infer<typeof budgetConfig>;
