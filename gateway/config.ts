import { z } from "zod";
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
  first_byte_timeout_ms: z.number().int().positive().default(30_000),
  total_timeout_ms: z.number().int().positive().default(600_000),
  max_connections: z.number().int().positive().default(256),
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
  id: z.string().min(1).describe("a name for the key, safe to log"),
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, "hex SHA-256 of the key")
    .describe("echo -n $KEY | sha256sum"),
  tenant: z.string().min(1),
});

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
    routes: z.array(routeConfig),
    api_keys: z.array(apiKeyConfig).min(1),
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
  });

export type VendorConfig = z.infer<typeof vendorConfig>;
export type RouteTarget = z.infer<typeof routeTarget>;
export type GatewayConfig = z.infer<typeof gatewayConfig>;
