import type { GatewayConfig, RouteTarget } from "./config.ts";
import type { PriceCatalog } from "./pricing.ts";

export interface RoutePlan {
  policy: "fallback";
  candidates: RouteTarget[];
}

/**
 * Resolves the `model` a client sends into an ordered list of vendor-model
 * candidates: a configured route name ("fast"), or `vendor/model` to pin one
 * priced candidate with no fallback.
 */
export class Router {
  private readonly plans = new Map<string, RoutePlan>();

  constructor(config: GatewayConfig, prices: PriceCatalog) {
    for (const route of config.routes) {
      this.plans.set(route.model, { policy: "fallback", candidates: route.fallback });
      for (const target of route.fallback) {
        if (!prices.priceOf(target)) {
          throw new Error(
            `route "${route.model}": ${target.vendor}/${target.model} has no price in catalog ${prices.version}`,
          );
        }
        this.plans.set(`${target.vendor}/${target.model}`, {
          policy: "fallback",
          candidates: [target],
        });
      }
    }
  }

  planFor(model: string): RoutePlan | undefined {
    return this.plans.get(model);
  }

  /** Every name a client may send, with its first candidate (which `/v1/models` prices). */
  routableModels(): { id: string; primary: RouteTarget }[] {
    return [...this.plans].flatMap(([id, plan]) => {
      const primary = plan.candidates[0];
      return primary ? [{ id, primary }] : [];
    });
  }
}
