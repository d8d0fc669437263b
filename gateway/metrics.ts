import type { FastifyReply, FastifyRequest } from "fastify";
import { Counter, Registry } from "prom-client";

/**
 * GET /metrics: the Prometheus registry the process was given (the outbox's
 * metrics, and in `switchboard all` ingest's too). The metric definitions
 * live with what they measure (eventlog/outbox, ingest, GatewayMetrics
 * below); the gateway only serves them. No tenant or request data goes into
 * a label.
 */
export function metricsRoute(registry: Registry = new Registry()) {
  return async (_request: FastifyRequest, reply: FastifyReply): Promise<string> => {
    reply.type(registry.contentType);
    return registry.metrics();
  };
}

const metricsByRegistry = new WeakMap<Registry, GatewayMetrics>();

/** What the gateway's request path counts itself, one set per registry. */
export class GatewayMetrics {
  /**
   * Answers whose vendor usage broke the usage contract
   * (vendors/usage-contract.ts) and were recorded with estimated usage.
   * Labelled by the operator's vendor id and the vendor's field: both come
   * from configuration and the adapters, never from a request.
   */
  readonly usageRejected: Counter<"vendor" | "field">;
  /**
   * Error answers written by the app's error handler: every refusal before
   * routing (a key, a budget, a bad body) and the final error of a request
   * that failed after it. Labelled by route pattern (never the URL) and the
   * stable error code (errors.ts): both bounded. Counted on the error path only.
   */
  readonly errorAnswers: Counter<"route" | "code">;

  private constructor(registry: Registry) {
    this.usageRejected = new Counter({
      name: "switchboard_usage_rejected_total",
      help: "Answers whose vendor-reported usage was outside the usage contract (negative, fractional, not a number, over the bound); recorded with estimated usage.",
      labelNames: ["vendor", "field"] as const,
      registers: [registry],
    });
    this.errorAnswers = new Counter({
      name: "switchboard_gateway_error_answers_total",
      help: "Error answers of the gateway's error handler, by route pattern (unmatched: no route) and error code: refusals before routing and the final error of a failed request.",
      labelNames: ["route", "code"] as const,
      registers: [registry],
    });
  }

  /** The registry's set, made on first use: a registry refuses a metric name twice. */
  static for(registry: Registry): GatewayMetrics {
    let metrics = metricsByRegistry.get(registry);
    if (!metrics) {
      metrics = new GatewayMetrics(registry);
      metricsByRegistry.set(registry, metrics);
    }
    return metrics;
  }
}
