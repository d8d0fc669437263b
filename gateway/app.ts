import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyRequest,
  LogController,
  type onRequestHookHandler,
} from "fastify";
import { Registry } from "prom-client";
import type { EventSink } from "../eventlog/ports.ts";
import { redactingSink, type SecretRedactor } from "../eventlog/secret-redactor.ts";
import { newEventId } from "../events/ids.ts";
import { heuristicScoresPublished } from "./answer-heuristics.ts";
import { ApiKeys, authenticateOnRequest } from "./auth.ts";
import { Budgets, type Clock } from "./budgets.ts";
import { dispatchChat } from "./chat-dispatch.ts";
import type { GatewayConfig } from "./config.ts";
import { CostBook } from "./costs.ts";
import { embeddings } from "./embeddings.ts";
import { GatewayError } from "./errors.ts";
import { feedbackRoute } from "./feedback.ts";
import { anthropicMessagesApi } from "./inbound/anthropic-messages.ts";
import { bearerKeyOf, type InboundChatApi } from "./inbound/inbound-api.ts";
import { registerJsonBodyParser } from "./inbound/json-body.ts";
import { openAIChatApi } from "./inbound/openai-chat.ts";
import { GatewayMetrics, metricsRoute } from "./metrics.ts";
import { listModels } from "./models.ts";
import { GatewayTracing } from "./observability/tracing.ts";
import type { TracingSettings } from "./observability/tracing-settings.ts";
import { TrafficMetrics } from "./observability/traffic-metrics.ts";
import type { PriceCatalog } from "./pricing.ts";
import { truncated } from "./reflected-text.ts";
import {
  RequestOwners,
  rememberingCompletions,
  type StoredRequestLookup,
} from "./request-owners.ts";
import { Router, type RouterOptions } from "./routing.ts";
import { Upstream } from "./upstream.ts";
import { vendorSecretRedactor } from "./vendor-secrets.ts";

export interface GatewayDependencies {
  config: GatewayConfig;
  prices: PriceCatalog;
  sink: EventSink;
  logger: FastifyBaseLogger;
  /**
   * Served at GET /metrics (outbox depth, and ingest's metrics in `switchboard
   * all`), with the gateway's own (GatewayMetrics); a registry of its own when
   * not given.
   */
  metrics?: Registry;
  /**
   * The budgets' running spend, seeded from ClickHouse by the caller
   * (budget-seed.ts); made here, unseeded, when not given.
   */
  budgets?: Budgets;
  /** Epoch ms: price cards, contracts and budget periods read it. Date.now unless a test injects one. */
  clock?: Clock;
  /**
   * Finds requests /v1/feedback may score that this gateway no longer (or
   * never) remembered, in ClickHouse (request-owners.ts); none: memory only.
   */
  requestLookup?: StoredRequestLookup;
  /** How many completed requests' tenants are kept in memory for /v1/feedback (default 100,000). */
  rememberedRequests?: number;
  /** Routing's random source and backoff wait; tests seed and record them. */
  routing?: Omit<RouterOptions, "now">;
  /**
   * The vendor keys to keep out of every answer, header and event; the CLI
   * passes the process's own (its logger uses the same). Default: built from
   * `config.vendors`.
   */
  redactor?: SecretRedactor;
  /**
   * Where to send traces (observability/tracing-settings.ts, from the OTEL_*
   * variables); none: tracing off, and no span is made.
   */
  tracing?: TracingSettings | null;
}

/** Builds the gateway without listening, so tests can `inject()` requests. */
export function buildGateway({
  config,
  prices,
  sink: givenSink,
  logger,
  metrics: registry = new Registry(),
  budgets: givenBudgets,
  clock = Date.now,
  requestLookup,
  rememberedRequests,
  routing,
  redactor = vendorSecretRedactor(config.vendors).redactor,
  tracing: tracingSettings = null,
}: GatewayDependencies): FastifyInstance {
  // Every event this gateway writes, whatever a vendor put in it, is redacted.
  const sink = redactingSink(givenSink, redactor);
  const app = Fastify({
    loggerInstance: logger,
    // Per-request lines would double what the events already record.
    // request.log lines carry the request id under the name the events use.
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: "request_id",
    }),
    bodyLimit: config.body_limit_bytes,
    // Every answer carries its request id, errors included; events use the same id.
    genReqId: () => `req_${newEventId().replaceAll("-", "")}`,
  });
  // Bodies are parsed only after onRequest let them in, and refused past MAX_JSON_DEPTH.
  registerJsonBodyParser(app);
  app.decorateRequest("caller", null);
  app.decorateRequest("trace", null);
  const owners = new RequestOwners({ capacity: rememberedRequests, lookup: requestLookup });
  // Breakers read the same clock; weighted draws, jitter and backoff waits can be injected.
  const router = new Router(config, prices, { now: clock, ...routing });
  const upstreams = new Map(config.vendors.map((vendor) => [vendor.id, new Upstream(vendor)]));
  const budgets =
    givenBudgets ?? (config.budgets.length > 0 ? new Budgets(config.budgets, sink, clock) : null);
  const costs = new CostBook(prices, config.contracts, (target) =>
    logger.warn(
      { vendor: target.vendor, model: target.model, price_catalog: prices.version },
      "no price card for this vendor and model: its requests are recorded with price_known false and cost 0 (logged once)",
    ),
  );
  const traffic = new TrafficMetrics(registry, { router, routing: config.routing, budgets });
  const tracing = tracingSettings
    ? new GatewayTracing(
        tracingSettings,
        new Map(
          [...upstreams].map(([id, upstream]) => [
            id,
            { providerName: upstream.adapter.providerName, baseUrl: upstream.vendor.base_url },
          ]),
        ),
      )
    : null;
  const dependencies = {
    apiKeys: new ApiKeys(config.api_keys, budgets ?? undefined),
    router,
    prices,
    costs,
    budgets,
    refuseUnpriced: config.refuse_unpriced,
    clock,
    upstreams,
    // Remembers each completed request's tenant, for /v1/feedback; counts each in the metrics.
    sink: rememberingCompletions(traffic.counting(sink), owners),
    redactor,
    metrics: GatewayMetrics.for(registry),
    traffic,
  };
  // Traced, a routed request's span starts before its key is checked and ends when its answer does.
  const traced = (authenticate: onRequestHookHandler): onRequestHookHandler[] => {
    if (!tracing) return [authenticate];
    const startTrace: onRequestHookHandler = (request, reply, done) => {
      const trace = tracing.startRequest(request, dependencies.sink);
      request.trace = trace;
      reply.raw.once("close", () => trace.end(reply.raw.statusCode));
      done();
    };
    return [startTrace, authenticate];
  };
  const created = Math.floor(clock() / 1000);
  // Each keyed route checks its key where its API carries it, before the body is read.
  const authenticateBearer = authenticateOnRequest(dependencies.apiKeys, (headers) =>
    bearerKeyOf(headers.authorization),
  );
  const authenticateApiKeyOrBearer = authenticateOnRequest(
    dependencies.apiKeys,
    anthropicMessagesApi.apiKeyOf,
  );

  app.post("/v1/chat/completions", { onRequest: traced(authenticateBearer) }, (request, reply) =>
    dispatchChat(request, reply, openAIChatApi, dependencies),
  );
  app.post("/v1/embeddings", { onRequest: traced(authenticateBearer) }, (request, reply) =>
    embeddings(request, reply, dependencies),
  );
  app.post(
    "/v1/messages",
    {
      config: { inbound: "anthropic" },
      onRequest: [
        (request, reply, done) => {
          // Anthropic's SDKs report this header as the request id, errors' too (a 401 included).
          reply.header("request-id", request.id);
          done();
        },
        ...traced(authenticateApiKeyOrBearer),
      ],
    },
    (request, reply) => dispatchChat(request, reply, anthropicMessagesApi, dependencies),
  );
  app.get("/v1/models", async (request, reply) => {
    reply.header("x-request-id", request.id);
    // Per call, not at start: the card in force changes on its effective dates.
    return listModels(router, prices, created, clock());
  });
  // Either API's keys score: x-api-key (Anthropic's SDKs), else the bearer key.
  app.post(
    "/v1/feedback",
    { onRequest: authenticateApiKeyOrBearer },
    feedbackRoute({ owners, sink }),
  );
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/metrics", metricsRoute(registry));

  app.setNotFoundHandler((request, reply) => {
    const error = new GatewayError(
      "not_found",
      `Unknown route ${request.method} ${truncated(request.url, MAX_QUOTED_URL_LENGTH)}.`,
    );
    reply.header("x-request-id", request.id);
    reply.code(error.status).send(inboundOf(request).renderError(error));
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const gatewayError = toGatewayError(error);
    if (gatewayError.code === "internal_error") request.log.error({ err: error }, "gateway error");
    request.trace?.failed(gatewayError.code);
    dependencies.metrics.errorAnswers.inc({
      route: request.routeOptions.url ?? "unmatched",
      code: gatewayError.code,
    });
    // Set here rather than in a hook on every request: answers that reach a vendor carry it
    // with their routing headers already.
    reply.header("x-request-id", request.id);
    if (gatewayError.retryAfterSeconds !== null) {
      reply.header("retry-after", String(gatewayError.retryAfterSeconds));
    }
    reply.code(gatewayError.status).send(inboundOf(request).renderError(gatewayError));
  });
  if (redactor.active) {
    // Every answer that is not a stream (streams redact in stream-relay.ts):
    // a vendor's error text echoing the gateway's key reaches the client as
    // an error body, a header, or a pass-through answer.
    app.addHook("onSend", (_request, reply, payload, done) => {
      for (const [name, value] of Object.entries(reply.getHeaders())) {
        const redacted = redactor.redactValue(value);
        if (redacted !== value && redacted !== undefined) reply.header(name, redacted);
      }
      if (typeof payload === "string") done(null, redactor.redact(payload));
      else if (Buffer.isBuffer(payload)) {
        const text = payload.toString("utf8");
        const redacted = redactor.redact(text);
        done(null, redacted === text ? payload : redacted);
      } else done(null, payload);
    });
  }
  app.addHook("onClose", async () => {
    await Promise.all([...upstreams.values()].map((upstream) => upstream.close()));
    // Scores of JSON Schema checks still on the checker's thread, before the caller closes the sink.
    await heuristicScoresPublished(SCORES_CLOSE_WAIT_MS);
    // The spans still batched, sent before the process goes.
    await tracing?.shutdown();
  });
  return app;
}

/** How long closing waits for schema checks still running (each is bounded at 1 s). */
const SCORES_CLOSE_WAIT_MS = 2_000;

/** An unknown route's URL as its 404 quotes it: a URL may be as long as the header limit. */
const MAX_QUOTED_URL_LENGTH = 200;

/** Errors are answered in the shape of the API the client called. */
function inboundOf(request: FastifyRequest): Pick<InboundChatApi, "renderError"> {
  const inbound = (request.routeOptions.config as { inbound?: string } | undefined)?.inbound;
  return inbound === "anthropic" || request.url.startsWith("/v1/messages")
    ? anthropicMessagesApi
    : openAIChatApi;
}

/** Fastify's own errors (bad JSON, too large) as gateway errors. */
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
