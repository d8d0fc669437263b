import type { FastifyReply, FastifyRequest } from "fastify";
import { Registry } from "prom-client";

/**
 * GET /metrics: the Prometheus registry the process was given (the outbox's
 * metrics, and in `switchboard all` ingest's too). The metric definitions
 * live with what they measure (eventlog/outbox, ingest); the gateway only
 * serves them. No tenant or request data goes into a label.
 */
export function metricsRoute(registry: Registry = new Registry()) {
  return async (_request: FastifyRequest, reply: FastifyReply): Promise<string> => {
    reply.type(registry.contentType);
    return registry.metrics();
  };
}
