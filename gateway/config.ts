import { z } from "zod";

const identifier = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "lowercase letters, digits, . _ -");

export const vendorConfig = z.object({
  id: identifier,
  protocol: z.literal("openai"),
  base_url: z.url().describe("up to and including /v1, e.g. https://api.openai.com/v1"),
  api_key_env: z.string().optional().describe("environment variable holding the vendor's key"),
  api_key: z
    .string()
    .optional()
    .describe("the key itself; only for local simulators, prefer api_key_env"),
  first_byte_timeout_ms: z.number().int().positive().default(30_000),
  total_timeout_ms: z.number().int().positive().default(600_000),
  max_connections: z.number().int().positive().default(256),
});

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
