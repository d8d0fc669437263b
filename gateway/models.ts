import { type PriceCatalog, perTokenPricing } from "./pricing.ts";
import type { Router } from "./routing.ts";

/**
 * GET /v1/models: every name a client may route to, priced in OpenRouter's
 * shape (USD per token) at the list card in force at `at` (epoch ms) for its
 * first candidate; `pricing` and `price_card_version` are null when none is.
 */
export function listModels(router: Router, prices: PriceCatalog, created: number, at: number) {
  return {
    object: "list",
    data: router.routableModels().map(({ id, primary }) => {
      const price = prices.priceOf(primary, at);
      return {
        id,
        object: "model",
        created,
        owned_by: primary.vendor,
        pricing: price ? perTokenPricing(price) : null,
        price_card_version: price?.version ?? null,
      };
    }),
  };
}
