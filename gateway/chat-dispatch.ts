// One chat call, whatever API the client speaks and whatever protocol each
// candidate vendor speaks: authenticate, validate, route, then try each
// candidate in order until one answers. A retryable failure (429, 5xx,
// timeout, connection, an unreadable answer) moves to the next candidate
// before any byte reaches the client; a request a vendor rejects as invalid
// goes back in the client's own error shape, with the vendor's status.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Dispatcher } from "undici";
import type { EventSink } from "../eventlog/ports.ts";
import type { SecretRedactor } from "../eventlog/secret-redactor.ts";
import { AbortEmitter } from "./abort-emitter.ts";
import {
  heuristicPlanFor,
  publishScores,
  StreamCapture,
  scoreWholeAnswer,
} from "./answer-heuristics.ts";
import { runAttempts } from "./attempt-loop.ts";
import { callerOf } from "./auth.ts";
import type { Budgets } from "./budgets.ts";
import type { RouteTarget } from "./config.ts";
import type { CostBook } from "./costs.ts";
import { GatewayError } from "./errors.ts";
import {
  type AttemptFailure,
  ClientGoneError,
  failureFromError,
  isForTheLoop,
  toGatewayError,
  UpstreamAnswerError,
} from "./failures.ts";
import type {
  InboundChatApi,
  ParsedChatRequest,
  TranslatedRequest,
} from "./inbound/inbound-api.ts";
import type { GatewayMetrics } from "./metrics.ts";
import { type NeutralResponse, NO_USAGE, outputTextOf } from "./neutral.ts";
import { type CallTrace, PassedOnTrace } from "./observability/tracing.ts";
import type { TrafficMetrics } from "./observability/traffic-metrics.ts";
import type { PriceCatalog } from "./pricing.ts";
import { type PromptApi, promptSha256 } from "./prompt-hash.ts";
import { warningsHeaderValue } from "./reflected-text.ts";
import { type Outcome, RequestLedger } from "./request-ledger.ts";
import { SKIP } from "./routing/decision.ts";
import {
  type ProviderPreferences,
  type RequestExtensions,
  takeExtensions,
} from "./routing/provider-preferences.ts";
import type { TaskSource } from "./routing/task-class.ts";
import type { Candidate, RouteDecision, RoutePlan, Router } from "./routing.ts";
import { requestedServiceTier, servedTier } from "./service-tier.ts";
import {
  type RelayedStream,
  relayBytes,
  relayOpenAIPassThrough,
  relayTranslated,
} from "./stream-relay.ts";
import { awaitFirstEvent } from "./stream-start.ts";
import type { Upstream } from "./upstream.ts";
import {
  estimateUsage,
  readingOf,
  type SettledUsage,
  settleUsage,
  warningsAfterSettling,
} from "./usage-estimate.ts";
import type { UpstreamRequest, VendorAdapter } from "./vendors/adapter.ts";

export interface DispatchDependencies {
  router: Router;
  prices: PriceCatalog;
  /** List and contracted cost of a completion (costs.ts). */
  costs: CostBook;
  /** Null when no budget is configured. */
  budgets: Budgets | null;
  /** Refuse candidates with no price card in force (config refuse_unpriced). */
  refuseUnpriced: boolean;
  /** Epoch ms; injected by tests. */
  clock: () => number;
  upstreams: Map<string, Upstream>;
  sink: EventSink;
  /** Counts what the request path refuses of vendors (usage outside the contract). */
  metrics: GatewayMetrics;
  /** Requests, attempts, failovers, latency, tokens and cost (observability/traffic-metrics.ts). */
  traffic: TrafficMetrics;
  /** The vendor keys, kept out of streams (non-streamed answers pass app.ts's onSend hook). */
  redactor: SecretRedactor;
}

/** Everything about one request that each attempt reads. */
export interface CallContext {
  requestId: string;
  task: string;
  taskSource: TaskSource;
  /** The list of the model asked for. */
  plan: RoutePlan;
  /** Every candidate considered, in order, the skipped with why (route_decided). */
  decision: RouteDecision;
  ledger: RequestLedger;
  /**
   * Candidates with no price card in force while refuse_unpriced is on, with
   * the reason: never tried, and named as skipped in route_decided.
   */
  unpricedRefused: ReadonlyMap<RouteTarget, string>;
  /** Aborted when the client goes away, so the upstream call stops too. */
  clientGone: AbortEmitter;
  traffic: TrafficMetrics;
  /**
   * The request's trace (tracing on), or the client's trace context passed on
   * to vendors as it came (tracing off, a traceparent sent), or null.
   */
  trace: CallTrace | null;
}

const NO_REFUSALS: ReadonlyMap<RouteTarget, string> = new Map();

/**
 * Checks the caller's budgets (in memory, no await; the key was checked in
 * onRequest, auth.ts), reads the task, resolves the plan and refuses unpriced
 * candidates when configured.
 */
export function beginCall(
  request: FastifyRequest,
  reply: FastifyReply,
  dependencies: DispatchDependencies,
  options: {
    model: string;
    streamed: boolean;
    /** The client's body and API, for the opt-in prompt hash. */
    prompt: { api: PromptApi; body: Record<string, unknown> };
    /** What routing reads of the request. */
    routing: RoutingSignals;
  },
): CallContext {
  const caller = callerOf(request);
  dependencies.budgets?.check(caller.budgets);
  const requestedAt = dependencies.clock();
  const router = dependencies.router;
  const signals = options.routing;
  const { task, source: taskSource } = router.resolveTask({
    header: request.headers["x-switchboard-task"],
    metadataTask: signals.metadataTask,
    path: request.routeOptions.url ?? request.url,
    model: options.model,
    hasTools: signals.hasTools,
    responseFormat: signals.responseFormat,
  });
  const plans = router.plansFor(options.model, task, signals.models);
  const plan = plans[0] as RoutePlan;
  const candidates =
    plans.length === 1 ? plan.candidates : plans.flatMap((each) => each.candidates);
  const unpricedRefused = dependencies.refuseUnpriced
    ? unpricedCandidates(candidates, dependencies.costs, requestedAt)
    : NO_REFUSALS;
  if (unpricedRefused.size > 0 && unpricedRefused.size === candidates.length) {
    const names = candidates.map((target) => `${target.vendor}/${target.model}`).join(", ");
    throw new GatewayError(
      "model_not_priced",
      `The model \`${options.model}\` has no price in this gateway's catalog (${names}), and the gateway refuses unpriced models.`,
      { param: "model" },
    );
  }
  const decision = router.decide({
    plans,
    streamed: options.streamed,
    inputTokens: signals.inputTokens,
    maxOutputTokens: signals.maxOutputTokens,
    hasTools: signals.hasTools,
    provider: signals.provider,
    refused: refusalsOf(candidates, unpricedRefused, signals.refuse),
    at: requestedAt,
  });
  // Traced, the ledger publishes through the request's trace, which reads its events.
  const requestTrace = request.trace;
  const ledger = new RequestLedger(requestTrace ?? dependencies.sink, {
    requestId: request.id,
    tenantId: caller.tenantId,
    task,
    requestModel: options.model,
    streamed: options.streamed,
    caller,
    requestedAt,
    costs: dependencies.costs,
    budgets: dependencies.budgets,
    promptSha256: caller.storePromptHash
      ? promptSha256(options.prompt.api, options.prompt.body)
      : null,
    log: request.log,
  });
  const clientGone = new AbortEmitter();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) clientGone.abort(new ClientGoneError());
  });
  return {
    requestId: request.id,
    task,
    taskSource,
    plan,
    decision,
    ledger,
    unpricedRefused,
    clientGone,
    traffic: dependencies.traffic,
    trace: requestTrace ?? PassedOnTrace.of(request.headers),
  };
}

/** What routing reads of a request, found by each API's handler. */
export interface RoutingSignals {
  /** `metadata.task` of the body. */
  metadataTask: unknown;
  hasTools: boolean;
  /** `response_format.type`. */
  responseFormat: string | undefined;
  /** OpenRouter's `models` fallback list. */
  models: readonly string[] | null;
  /** OpenRouter's `provider` preferences. */
  provider: ProviderPreferences | null;
  /** Estimated input tokens (a quarter of the body's bytes). */
  inputTokens: number;
  /** max_tokens when the client set one. */
  maxOutputTokens: number | null;
  /** Why a candidate cannot serve this endpoint at all (embeddings), or null. */
  refuse?: (candidate: Candidate) => string | null;
}

/** Refused unpriced candidates and those the endpoint rules out, or null for none (no allocation). */
function refusalsOf(
  candidates: readonly Candidate[],
  unpricedRefused: ReadonlyMap<RouteTarget, string>,
  refuse: RoutingSignals["refuse"],
): ReadonlyMap<RouteTarget, string> | null {
  if (!refuse) return unpricedRefused.size > 0 ? unpricedRefused : null;
  const refused = new Map(unpricedRefused);
  for (const candidate of candidates) {
    const reason = refused.has(candidate) ? null : refuse(candidate);
    if (reason !== null) refused.set(candidate, reason);
  }
  return refused.size > 0 ? refused : null;
}

/** A quarter of the body's bytes: a cheap estimate of input tokens, good enough to compare prices. */
export function estimatedInputTokens(request: FastifyRequest): number {
  return Math.ceil(Number(request.headers["content-length"] ?? 0) / 4);
}

/**
 * Candidates with no price card in force at `at`, each with the skip reason
 * route_decided gives; the shared empty map when every one is priced.
 */
export function unpricedCandidates(
  candidates: readonly RouteTarget[],
  costs: CostBook,
  at: number,
): ReadonlyMap<RouteTarget, string> {
  let refused: Map<RouteTarget, string> | undefined;
  for (const target of candidates) {
    if (costs.isPriced(target, at)) continue;
    refused ??= new Map();
    refused.set(target, "no price card in force and refuse_unpriced is on");
  }
  return refused ?? NO_REFUSALS;
}

export async function dispatchChat(
  request: FastifyRequest,
  reply: FastifyReply,
  inbound: InboundChatApi,
  dependencies: DispatchDependencies,
): Promise<void> {
  const parsed = inbound.parse(request.body);
  const routed = routingSignalsOf(inbound.protocol, parsed.body, request);
  const call = beginCall(request, reply, dependencies, {
    model: parsed.model,
    streamed: parsed.stream,
    prompt: { api: inbound.protocol, body: routed.body },
    routing: routed.signals,
  });
  call.ledger.routeDecided(call.decision, call.taskSource);
  await completingOnce(call, reply, inbound, () =>
    attemptChat(request, reply, inbound, dependencies, call, parsed, routed),
  );
}

/** How an API writes an error: its body, and (chat) its in-stream frame. */
type ErrorWriter = Pick<InboundChatApi, "renderError"> &
  Partial<Pick<InboundChatApi, "createStreamWriter">>;

/**
 * Runs what follows route_decided so that the request ends with exactly one
 * request_completed, whatever throws: a path that completed is left alone
 * (the ledger refuses a second), one that did not is recorded failed
 * (RequestLedger.failedUnexpectedly). A stream already begun is ended with
 * the protocol's error frame; otherwise fastify's error handler answers 500
 * in the client's shape and logs the error.
 */
export async function completingOnce(
  call: CallContext,
  reply: FastifyReply,
  inbound: ErrorWriter,
  attempts: () => Promise<void>,
): Promise<void> {
  try {
    await attempts();
  } catch (error) {
    try {
      call.ledger.failedUnexpectedly(statusSent(reply));
    } finally {
      endTakenOverReply(call, reply, inbound);
    }
    throw error;
  }
  // Every way out of the attempts records the request; one that does not is a bug, recorded and raised.
  if (call.ledger.failedUnexpectedly(statusSent(reply))) {
    endTakenOverReply(call, reply, inbound);
    throw new Error(`request ${call.requestId} ended without its request_completed`);
  }
}

/** The status the client already has (a stream's 200), else the 500 it is about to get. */
function statusSent(reply: FastifyReply): number {
  return reply.raw.headersSent ? reply.raw.statusCode : 500;
}

/** A hijacked reply (a stream) that is still open, ended with a 500 or the protocol's error frame. */
function endTakenOverReply(call: CallContext, reply: FastifyReply, inbound: ErrorWriter): void {
  const raw = reply.raw;
  if (!reply.sent || raw.writableEnded || raw.destroyed) return;
  const error = new GatewayError("internal_error", "The gateway had an internal error.");
  if (raw.headersSent) {
    const writer = inbound.createStreamWriter?.({
      requestId: call.requestId,
      clientWantsUsage: false,
    });
    raw.end(writer?.error(error) ?? "");
    return;
  }
  raw.writeHead(error.status, {
    "content-type": "application/json; charset=utf-8",
    "x-request-id": call.requestId,
  });
  raw.end(JSON.stringify(inbound.renderError(error)));
}

/** The candidates tried in turn for one chat request, after route_decided. */
async function attemptChat(
  request: FastifyRequest,
  reply: FastifyReply,
  inbound: InboundChatApi,
  dependencies: DispatchDependencies,
  call: CallContext,
  parsed: ParsedChatRequest,
  routed: ReturnType<typeof routingSignalsOf>,
): Promise<void> {
  // Without the gateway's own fields (models, provider): what every vendor is sent.
  const body = routed.body;
  if (call.decision.attempts.length === 0) {
    const failure = noCandidateFailure(call, parsed.model);
    call.ledger.completed(failedOutcome(null, failure.cause, failure.error.status));
    throw failure.error;
  }
  // What the answer heuristics will check; null (nothing kept) for plain text without tools.
  const heuristics = heuristicPlanFor(inbound.protocol, body);
  // Translated at most once, and only if a candidate speaks another protocol.
  let translated: TranslatedRequest | undefined;
  const translation = () => {
    translated ??= inbound.toNeutral(body);
    return translated;
  };

  const exhausted = await runAttempts(call, dependencies.router, async (target) => {
    const upstream = dependencies.upstreams.get(target.vendor);
    if (!upstream) throw new Error(`no upstream for vendor ${target.vendor}`);
    const adapter = upstream.adapter;
    const passThrough =
      adapter.passThrough?.protocol === inbound.protocol ? adapter.passThrough : undefined;
    const upstreamRequest: UpstreamRequest = passThrough
      ? passThrough.toChatRequest(body, target.model, request.headers)
      : adapter.toChatRequest(translation().request, target.model);
    const vendorWarnings = passThrough
      ? upstreamRequest.warnings
      : [...translation().warnings, ...upstreamRequest.warnings];
    const warnings =
      routed.warnings.length > 0 ? [...routed.warnings, ...vendorWarnings] : vendorWarnings;

    const sent = await sendAttempt(upstream, upstreamRequest, call);
    if ("failure" in sent) {
      if (isForTheLoop(sent.failure)) return { outcome: "failed", failure: sent.failure };
      // The vendor refused the request itself: the next candidate would too.
      call.ledger.completed({
        ...failedOutcome(target, sent.failure, sent.failure.httpStatus ?? 400),
        warnings,
      });
      reply.headers(routingHeaders(call, target, warnings));
      sendError(reply, inbound, toGatewayError(sent.failure, sent.failure.httpStatus ?? undefined));
      return { outcome: "refused" };
    }
    const response = sent.response;

    if (parsed.stream) {
      // Until its first event, a stream can still fail over: nothing is sent before it.
      const started = await awaitFirstEvent(response, adapter.createStreamDecoder);
      if ("failure" in started) return { outcome: "failed", failure: started.failure };
      const upstreamStream = started.stream;
      const headers = routingHeaders(call, target, warnings);
      reply.hijack();
      const capture = new StreamCapture(heuristics);
      const options = {
        headers,
        capture,
        redactor: dependencies.redactor,
        elapsedMs: () => call.ledger.elapsedMs(),
        errorFrame: (error: GatewayError) =>
          inbound
            .createStreamWriter({ requestId: call.requestId, clientWantsUsage: false })
            .error(error),
      };
      let relayed: RelayedStream;
      if (passThrough?.isGatewayOnlyFrame) {
        const isGatewayOnlyFrame = passThrough.isGatewayOnlyFrame;
        relayed = await relayOpenAIPassThrough(upstreamStream, reply.raw, {
          ...options,
          fromUsage: adapter.fromUsage,
          isGatewayOnlyFrame: (frame) => isGatewayOnlyFrame(frame, parsed.clientWantsUsage),
        });
      } else if (passThrough) {
        relayed = await relayBytes(
          upstreamStream,
          reply.raw,
          adapter.createStreamDecoder(),
          options,
        );
      } else {
        const writer = inbound.createStreamWriter({
          requestId: call.requestId,
          clientWantsUsage: parsed.clientWantsUsage,
        });
        relayed = await relayTranslated(
          upstreamStream,
          reply.raw,
          adapter.createStreamDecoder(),
          writer,
          {
            ...options,
            settleUsage: (stream) => settleStreamUsage(stream, translation).usage,
          },
        );
      }
      const settled = settleStreamUsage(relayed, translation);
      const complete = () =>
        call.ledger.completed({
          target,
          responseModel: relayed.responseModel,
          status: relayed.failure ? "error" : "success",
          httpStatus: relayed.failure?.errorClass === "client_closed" ? 499 : 200,
          errorClass: relayed.failure?.errorClass ?? null,
          usage: settled.usage,
          usageSource: settled.source,
          ttftMs: relayed.ttftMs,
          // The client has its headers already: a refused usage is told in the event only.
          warnings: warningsAfterSettling(warnings, settled, target.vendor, dependencies.metrics),
          finish: relayed.finish,
          // A stream's own word for its tier is not read yet: the tier asked for, else standard.
          serviceTier: servedTier(requestedServiceTier(body), null),
        });
      // A stream broken after its start: attempt_failed first (attempt-loop.ts), then this.
      if (relayed.failure && relayed.failure.errorClass !== "client_closed") {
        return { outcome: "broken", failure: relayed.failure, complete };
      }
      complete();
      if (!relayed.failure) {
        publishScoresOf(request, call, () => capture.scored());
        return {
          outcome: "answered",
          ttftMs: relayed.ttftMs,
          outputTokens: settled.usage.outputTokens,
        };
      }
      return { outcome: "abandoned" };
    }

    // A whole answer: read and understood before anything reaches the client,
    // so an unreadable one can still fail over.
    let text: string;
    let answer: unknown;
    let translatedAnswer: NeutralResponse | undefined;
    try {
      text = await response.body.text();
      answer = JSON.parse(text);
      if (!passThrough) translatedAnswer = adapter.fromChatResponse(answer);
    } catch (error) {
      const failure = failureFromError(
        error instanceof SyntaxError ? new UpstreamAnswerError(error.message) : error,
      );
      return { outcome: "failed", failure };
    }
    const settled = settleUsage(
      translatedAnswer
        ? readingOf(translatedAnswer.usage, translatedAnswer.usageRejection ?? null)
        : adapter.fromUsage((answer as { usage?: unknown } | null)?.usage),
      () => estimateUsage(translation().request, answerTextOf(translatedAnswer, answer, adapter)),
    );
    const answerWarnings = warningsAfterSettling(
      warnings,
      settled,
      target.vendor,
      dependencies.metrics,
    );
    const responseModel = translatedAnswer?.model ?? (answer as { model?: unknown } | null)?.model;
    const headers = routingHeaders(call, target, answerWarnings);
    // Written before the request is recorded a success, so a failure writing it is recorded as one.
    const payload = translatedAnswer
      ? JSON.stringify(inbound.renderResponse(translatedAnswer, settled.usage, call.requestId))
      : text;
    const { costUsd } = call.ledger.completed({
      target,
      responseModel: typeof responseModel === "string" ? responseModel : null,
      status: "success",
      httpStatus: 200,
      errorClass: null,
      usage: settled.usage,
      usageSource: settled.source,
      ttftMs: call.ledger.elapsedMs(),
      warnings: answerWarnings,
      finish: translatedAnswer
        ? {
            reason: translatedAnswer.finishReason,
            vendorReason: translatedAnswer.vendorFinishReason ?? null,
          }
        : (passThrough?.finishOf(answer) ?? null),
      serviceTier: servedTier(requestedServiceTier(body), adapter.serviceTierOf?.(answer) ?? null),
    });
    publishScoresOf(request, call, () =>
      scoreWholeAnswer(heuristics, inbound.protocol, translatedAnswer, answer, () =>
        adapter.fromChatResponse(answer),
      ),
    );
    reply.headers({ ...headers, "x-switchboard-cost-usd": costUsd });
    reply.type("application/json");
    reply.send(payload);
    return {
      outcome: "answered",
      ttftMs: null,
      outputTokens: settled.usage.outputTokens,
    };
  });
  if (!exhausted) return;

  const failure = finalFailure(exhausted.failures, call.decision.attempts.length, parsed.model);
  call.ledger.completed(failedOutcome(exhausted.lastTarget, failure.cause, failure.error.status));
  if (exhausted.lastTarget) reply.headers(routingHeaders(call, exhausted.lastTarget, []));
  throw failure.error;
}

/**
 * The answer heuristics' scores, after the request was recorded a success:
 * a heuristic that throws then is logged with the request id, and the client
 * still gets the answer its request_completed says it got.
 */
function publishScoresOf(
  request: FastifyRequest,
  call: CallContext,
  score: () => ReturnType<typeof scoreWholeAnswer>,
): void {
  try {
    publishScores(score(), call.ledger, request.log);
  } catch (error) {
    request.log.error({ err: error }, "the answer heuristics failed; no score was published");
  }
}

/** What routing reads of a chat body, and the body without the gateway's own fields. */
function routingSignalsOf(
  protocol: InboundChatApi["protocol"],
  parsedBody: Record<string, unknown>,
  request: FastifyRequest,
): { signals: RoutingSignals; body: Record<string, unknown>; warnings: string[] } {
  let body = parsedBody;
  let extensions: RequestExtensions | null = null;
  const metadata = body.metadata as Record<string, unknown> | null | undefined;
  const metadataTask = metadata?.task;
  if (protocol === "openai") {
    // OpenRouter's extensions, read and taken out before any vendor sees the body.
    extensions = takeExtensions(body);
    if (extensions) body = extensions.body;
  } else if (metadataTask !== undefined && metadata) {
    // Anthropic refuses metadata keys it does not know.
    const { task: _task, ...rest } = metadata;
    body = { ...body, metadata: rest };
  }
  const tools = body.tools;
  const responseFormat = body.response_format as { type?: unknown } | null | undefined;
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  return {
    signals: {
      metadataTask,
      hasTools: Array.isArray(tools) && tools.length > 0,
      responseFormat: typeof responseFormat?.type === "string" ? responseFormat.type : undefined,
      models: extensions?.models ?? null,
      provider: extensions?.provider ?? null,
      inputTokens: estimatedInputTokens(request),
      maxOutputTokens: typeof maxTokens === "number" ? maxTokens : null,
    },
    body,
    warnings: extensions?.warnings ?? NO_WARNINGS,
  };
}

const NO_WARNINGS: string[] = [];

/**
 * Routing left no candidate to try. Open circuits: 503, with retry-after the
 * time until the first one lets a probe through. Otherwise the request's own
 * constraints ruled every candidate out: 400, naming `provider` when the
 * client sent preferences.
 */
export function noCandidateFailure(
  call: CallContext,
  model: string,
): { error: GatewayError; cause: AttemptFailure } {
  const reasons = call.decision.entries
    .map((entry) => `${entry.candidate.vendor}/${entry.candidate.model}: ${entry.skippedReason}`)
    .join("; ");
  let reopensInMs = Number.POSITIVE_INFINITY;
  for (const entry of call.decision.entries) {
    if (entry.skippedReason === SKIP.circuitOpen) {
      reopensInMs = Math.min(reopensInMs, entry.candidate.health.breaker.reopensInMs());
    }
  }
  const message = `No candidate of model "${model}" can take this request (${reasons}).`;
  if (reopensInMs !== Number.POSITIVE_INFINITY) {
    const retryAfterSeconds = Math.max(1, Math.ceil(reopensInMs / 1000));
    return {
      error: new GatewayError("upstream_overloaded", message, { retryAfterSeconds }),
      cause: {
        code: "upstream_overloaded",
        errorClass: "server_error",
        httpStatus: null,
        retryable: true,
        message,
        retryAfterSeconds,
      },
    };
  }
  const param = call.decision.entries.some((entry) =>
    PROVIDER_REASONS.has(entry.skippedReason ?? ""),
  )
    ? "provider"
    : "model";
  return {
    error: new GatewayError("invalid_request", message, { param }),
    cause: {
      code: "invalid_request",
      errorClass: "client_error",
      httpStatus: 400,
      retryable: false,
      message,
    },
  };
}

const PROVIDER_REASONS = new Set<string>([
  SKIP.providerIgnored,
  SKIP.notInProviderOnly,
  SKIP.notInProviderOrder,
  SKIP.fallbacksDisallowed,
  SKIP.overMaxPrice,
]);

/** One upstream call, up to its status and headers; a failure carries its stable code. */
export async function sendAttempt(
  upstream: Upstream,
  upstreamRequest: UpstreamRequest,
  call: CallContext,
): Promise<{ response: Dispatcher.ResponseData } | { failure: AttemptFailure }> {
  let response: Dispatcher.ResponseData;
  try {
    response = await upstream.send(
      call.trace ? call.trace.carrying(upstreamRequest) : upstreamRequest,
      call.clientGone,
    );
  } catch (error) {
    return { failure: failureFromError(error) };
  }
  if (response.statusCode < 400) return { response };
  const body = await response.body.text().catch(() => "");
  return { failure: upstream.adapter.mapError(response.statusCode, body, response.headers) };
}

/**
 * Every candidate failed. When they all failed the same way (every one rate
 * limited, say), that is the answer, so a client's back-off logic sees it;
 * otherwise `all_vendors_failed`.
 */
export function finalFailure(
  failures: AttemptFailure[],
  candidates: number,
  model: string,
): { error: GatewayError; cause: AttemptFailure } {
  const last = failures.at(-1) ?? {
    code: "all_vendors_failed" as const,
    errorClass: "server_error" as const,
    httpStatus: null,
    retryable: true,
    message: "no candidate was tried",
  };
  // Recorded with 499, as proxies do; nobody reads the answer.
  if (last.errorClass === "client_closed") {
    return { error: new GatewayError("client_closed", last.message), cause: last };
  }
  const sameEverywhere =
    failures.length > 1 && failures.every((failure) => failure.code === last.code);
  const summary = `All ${candidates} candidate(s) for model "${model}" failed; the last: ${last.message}`;
  const error = sameEverywhere
    ? new GatewayError(last.code, summary, { retryAfterSeconds: last.retryAfterSeconds ?? null })
    : new GatewayError("all_vendors_failed", summary);
  return { error, cause: last };
}

export function routingHeaders(
  call: CallContext,
  target: RouteTarget,
  warnings: readonly string[],
): Record<string, string> {
  const headers: Record<string, string> = {
    "x-request-id": call.requestId,
    "x-switchboard-vendor": target.vendor,
    "x-switchboard-model": target.model,
    "x-switchboard-attempts": String(call.ledger.attemptCount),
  };
  // One line of visible ASCII, bounded whatever the warnings quote (reflected-text.ts).
  if (warnings.length > 0) headers["x-switchboard-warnings"] = warningsHeaderValue(warnings);
  return headers;
}

export function sendError(
  reply: FastifyReply,
  inbound: Pick<InboundChatApi, "renderError">,
  error: GatewayError,
): void {
  if (error.retryAfterSeconds !== null)
    reply.header("retry-after", String(error.retryAfterSeconds));
  reply.code(error.status).type("application/json").send(inbound.renderError(error));
}

/** A stream's usage as recorded: the vendor's latest inside the contract, else an estimate of what arrived. */
function settleStreamUsage(
  stream: RelayedStream,
  translation: () => TranslatedRequest,
): SettledUsage {
  return settleUsage(readingOf(stream.usage, stream.usageRejection), () =>
    estimateUsage(translation().request, stream.outputText),
  );
}

/** The text of a whole answer, for an estimate; none when the answer cannot be read. */
function answerTextOf(
  translatedAnswer: NeutralResponse | undefined,
  answer: unknown,
  adapter: VendorAdapter,
): string {
  try {
    return outputTextOf((translatedAnswer ?? adapter.fromChatResponse(answer)).parts);
  } catch {
    return "";
  }
}

export function failedOutcome(
  target: RouteTarget | null,
  failure: AttemptFailure,
  httpStatus: number,
): Outcome {
  return {
    target,
    responseModel: null,
    status: "error",
    httpStatus,
    errorClass: failure.errorClass,
    usage: NO_USAGE,
    usageSource: "reported",
    ttftMs: null,
  };
}
