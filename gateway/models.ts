import { type PriceCatalog, perTokenPricing } from "./pricing.ts";
import type { Router } from "./routing.ts";

/** GET /v1/models: every name a client may route to, priced in OpenRouter's shape (USD per token). */
export function listModels(router: Router, prices: PriceCatalog, created: number) {
  return {
    object: "list",
    data: router.routableModels().map(({ id, primary }) => {
      const price = prices.priceOf(primary);
      if (!price) throw new Error(`no price for ${primary.vendor}/${primary.model}`);
      return {
        id,
        object: "model",
        created,
        owned_by: primary.vendor,
        pricing: perTokenPricing(price),
        price_card_version: prices.version,
      };
    }),
  };
}
