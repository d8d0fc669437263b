import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from "fastify";
import type { EventSink } from "../eventlog/ports.ts";
import { newEventId } from "../events/ids.ts";
import { ApiKeys } from "./auth.ts";
import { chatCompletions } from "./chat-completions.ts";
import type { GatewayConfig } from "./config.ts";
import { GatewayError } from "./errors.ts";
import { listModels } from "./models.ts";
import type { PriceCatalog } from "./pricing.ts";
import { Router } from "./routing.ts";
import { Upstream } from "./upstream.ts";

export interface GatewayDependencies {
  config: GatewayConfig;
  prices: PriceCatalog;
  sink: EventSink;
  logger: FastifyBaseLogger;
}

/** Builds the gateway without listening, so tests can `inject()` requests. */
export function buildGateway({
  config,
  prices,
  sink,
  logger,
}: GatewayDependencies): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    // Per-request lines would double what the events already record.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.body_limit_bytes,
  });
  const router = new Router(config, prices);
  const upstreams = new Map(config.vendors.map((vendor) => [vendor.id, new Upstream(vendor)]));
  const dependencies = {
    apiKeys: new ApiKeys(config.api_keys),
    router,
    prices,
    upstreams,
    sink,
    newRequestId: () => `req_${newEventId().replaceAll("-", "")}`,
  };
  const modelList = listModels(router, prices, Math.floor(Date.now() / 1000));

  app.post("/v1/chat/completions", (request, reply) =>
    chatCompletions(request, reply, dependencies),
  );
  app.get("/v1/models", async () => modelList);
  app.get("/healthz", async () => ({ status: "ok" }));

  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError("not_found", `Unknown route ${request.method} ${request.url}.`);
    reply.code(error.status).send(error.toOpenAI());
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === "internal_error") logger.error({ err: error }, "gateway error");
    reply.code(gatewayError.status).send(gatewayError.toOpenAI());
  });
  app.addHook("onClose", async () => {
    await Promise.all([...upstreams.values()].map((upstream) => upstream.close()));
  });
  return app;
}

/** Fastify's own errors (bad JSON, too large) answered in OpenAI's shape. */
function toGatewayError(error: FastifyError): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return new GatewayError("request_too_large", "The request body is too large.");
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return new GatewayError(
      "invalid_request",
      `We could not parse the JSON body of your request. (${error.message})`,
    );
  }
  return new GatewayError("internal_error", "The gateway had an internal error.", { cause: error });
}
