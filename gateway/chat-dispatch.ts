// One chat call, whatever API the client speaks and whatever protocol each
// candidate vendor speaks: authenticate, validate, route, then try each
// candidate in order until one answers. A retryable failure (429, 5xx,
// timeout, connection, an unreadable answer) moves to the next candidate
// before any byte reaches the client; a request a vendor rejects as invalid
// goes back in the client's own error shape, with the vendor's status.
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Dispatcher } from "undici";
import type { EventSink } from "../eventlog/ports.ts";
import type { ApiKeys } from "./auth.ts";
import type { RouteTarget } from "./config.ts";
import { GatewayError } from "./errors.ts";
import {
  type AttemptFailure,
  failureFromError,
  toGatewayError,
  UpstreamAnswerError,
} from "./failures.ts";
import type { InboundChatApi, TranslatedRequest } from "./inbound/inbound-api.ts";
import { type NeutralResponse, NO_USAGE, type NormalizedUsage, outputTextOf } from "./neutral.ts";
import type { PriceCatalog } from "./pricing.ts";
import { type Outcome, RequestLedger } from "./request-ledger.ts";
import type { RoutePlan, Router } from "./routing.ts";
import {
  type RelayedStream,
  relayBytes,
  relayOpenAIPassThrough,
  relayTranslated,
} from "./stream-relay.ts";
import type { Upstream } from "./upstream.ts";
import { estimateUsage } from "./usage-estimate.ts";
import type { UpstreamRequest, VendorAdapter } from "./vendors/adapter.ts";

export interface DispatchDependencies {
  apiKeys: ApiKeys;
  router: Router;
  prices: PriceCatalog;
  upstreams: Map<string, Upstream>;
  sink: EventSink;
}

const TASK_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const DEFAULT_TASK = "general";

/** Everything about one request that each attempt reads. */
export interface CallContext {
  requestId: string;
  task: string;
  plan: RoutePlan;
  ledger: RequestLedger;
  /** Aborted when the client goes away, so the upstream call stops too. */
  clientGone: AbortController;
}

/** Authenticates, reads the task, resolves the plan and publishes the routing decision. */
export function beginCall(
  request: FastifyRequest,
  reply: FastifyReply,
  dependencies: DispatchDependencies,
  options: { apiKey: string | undefined; model: string; streamed: boolean },
): CallContext {
  const caller = dependencies.apiKeys.authenticate(options.apiKey);
  const plan = dependencies.router.planFor(options.model);
  if (!plan) {
    throw new GatewayError(
      "model_not_found",
      `The model \`${options.model}\` does not exist or you do not have access to it.`,
      { param: "model" },
    );
  }
  const task = taskFrom(request.headers["x-switchboard-task"]);
  const ledger = new RequestLedger(dependencies.sink, {
    requestId: request.id,
    tenantId: caller.tenantId,
    task,
    requestModel: options.model,
    streamed: options.streamed,
    priceCardVersion: dependencies.prices.version,
  });
  const clientGone = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) clientGone.abort();
  });
  return { requestId: request.id, task, plan, ledger, clientGone };
}

export async function dispatchChat(
  request: FastifyRequest,
  reply: FastifyReply,
  inbound: InboundChatApi,
  dependencies: DispatchDependencies,
): Promise<void> {
  const apiKey = inbound.apiKeyOf(request.headers);
  const parsed = inbound.parse(request.body);
  const call = beginCall(request, reply, dependencies, {
    apiKey,
    model: parsed.model,
    streamed: parsed.stream,
  });
  call.ledger.routeDecided(call.plan);
  // Translated at most once, and only if a candidate speaks another protocol.
  let translated: TranslatedRequest | undefined;
  const translation = () => {
    translated ??= inbound.toNeutral(parsed.body);
    return translated;
  };

  const failures: AttemptFailure[] = [];
  let lastTarget: RouteTarget | null = null;
  for (const target of call.plan.candidates) {
    lastTarget = target;
    const upstream = dependencies.upstreams.get(target.vendor);
    if (!upstream) throw new Error(`no upstream for vendor ${target.vendor}`);
    const adapter = upstream.adapter;
    const passThrough =
      adapter.passThrough?.protocol === inbound.protocol ? adapter.passThrough : undefined;
    const upstreamRequest: UpstreamRequest = passThrough
      ? passThrough.toChatRequest(parsed.body, target.model, request.headers)
      : adapter.toChatRequest(translation().request, target.model);
    const warnings = passThrough
      ? upstreamRequest.warnings
      : [...translation().warnings, ...upstreamRequest.warnings];

    const attemptStartedAt = call.ledger.attemptStarted();
    const sent = await sendAttempt(upstream, upstreamRequest, call);
    if ("failure" in sent) {
      failures.push(sent.failure);
      if (sent.failure.retryable) {
        call.ledger.attemptFailed(target, sent.failure, attemptStartedAt);
        if (call.clientGone.signal.aborted) break;
        continue;
      }
      // The vendor refused the request itself: the next candidate would too.
      call.ledger.completed(failedOutcome(target, sent.failure, sent.failure.httpStatus ?? 400));
      reply.headers(routingHeaders(call, target, warnings));
      sendError(reply, inbound, toGatewayError(sent.failure, sent.failure.httpStatus ?? undefined));
      return;
    }
    const response = sent.response;
    const headers = routingHeaders(call, target, warnings);
    const price = dependencies.prices.priceOf(target);
    if (!price) throw new Error(`no price for ${target.vendor}/${target.model}`);

    if (parsed.stream) {
      reply.hijack();
      const options = {
        headers,
        elapsedMs: () => call.ledger.elapsedMs(),
        errorFrame: (error: GatewayError) =>
          inbound
            .createStreamWriter({ requestId: call.requestId, clientWantsUsage: false })
            .error(error),
      };
      let relayed: RelayedStream;
      if (passThrough?.isGatewayOnlyFrame) {
        const isGatewayOnlyFrame = passThrough.isGatewayOnlyFrame;
        relayed = await relayOpenAIPassThrough(response, reply.raw, {
          ...options,
          fromUsage: adapter.fromUsage,
          isGatewayOnlyFrame: (frame) => isGatewayOnlyFrame(frame, parsed.clientWantsUsage),
        });
      } else if (passThrough) {
        relayed = await relayBytes(response, reply.raw, adapter.createStreamDecoder(), options);
      } else {
        const writer = inbound.createStreamWriter({
          requestId: call.requestId,
          clientWantsUsage: parsed.clientWantsUsage,
        });
        relayed = await relayTranslated(
          response,
          reply.raw,
          adapter.createStreamDecoder(),
          writer,
          {
            ...options,
            settleUsage: (stream) =>
              settleUsage(stream.usage, stream.outputText, translation).usage,
          },
        );
      }
      const settled = settleUsage(relayed.usage, relayed.outputText, translation);
      call.ledger.completed({
        target,
        responseModel: relayed.responseModel,
        status: relayed.failure ? "error" : "success",
        httpStatus: relayed.failure?.errorClass === "client_closed" ? 499 : 200,
        errorClass: relayed.failure?.errorClass ?? null,
        usage: settled.usage,
        usageSource: settled.source,
        costUsd: dependencies.prices.cost(price, settled.usage),
        ttftMs: relayed.ttftMs,
      });
      return;
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
      failures.push(failure);
      call.ledger.attemptFailed(target, failure, attemptStartedAt);
      continue;
    }
    const reported = translatedAnswer
      ? translatedAnswer.usage
      : adapter.fromUsage((answer as { usage?: unknown } | null)?.usage);
    const settled = reported
      ? { usage: reported, source: "reported" as const }
      : settleUsage(null, answerTextOf(translatedAnswer, answer, adapter), translation);
    const costUsd = dependencies.prices.cost(price, settled.usage);
    const responseModel = translatedAnswer?.model ?? (answer as { model?: unknown } | null)?.model;
    call.ledger.completed({
      target,
      responseModel: typeof responseModel === "string" ? responseModel : null,
      status: "success",
      httpStatus: 200,
      errorClass: null,
      usage: settled.usage,
      usageSource: settled.source,
      costUsd,
      ttftMs: call.ledger.elapsedMs(),
    });
    reply.headers({ ...headers, "x-switchboard-cost-usd": costUsd });
    reply.type("application/json");
    reply.send(
      translatedAnswer
        ? JSON.stringify(inbound.renderResponse(translatedAnswer, settled.usage, call.requestId))
        : text,
    );
    return;
  }

  const failure = finalFailure(failures, call.plan.candidates.length, parsed.model);
  call.ledger.completed(failedOutcome(lastTarget, failure.cause, failure.error.status));
  if (lastTarget) reply.headers(routingHeaders(call, lastTarget, []));
  throw failure.error;
}

/** One upstream call, up to its status and headers; a failure carries its stable code. */
export async function sendAttempt(
  upstream: Upstream,
  upstreamRequest: UpstreamRequest,
  call: CallContext,
): Promise<{ response: Dispatcher.ResponseData } | { failure: AttemptFailure }> {
  let response: Dispatcher.ResponseData;
  try {
    response = await upstream.send(upstreamRequest, call.clientGone.signal);
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
  // Header values are one line of visible ASCII: each warning is JSON-escaped.
  if (warnings.length > 0) headers["x-switchboard-warnings"] = toHeaderValue(warnings);
  return headers;
}

function toHeaderValue(warnings: readonly string[]): string {
  return JSON.stringify(warnings).replace(
    /[^\x20-\x7e]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
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

/** The vendor's usage when it reported one; otherwise an estimate, marked as such. */
function settleUsage(
  reported: NormalizedUsage | null,
  outputText: string,
  translation: () => TranslatedRequest,
): { usage: NormalizedUsage; source: "reported" | "estimated" } {
  if (reported) return { usage: reported, source: "reported" };
  return { usage: estimateUsage(translation().request, outputText), source: "estimated" };
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

export function taskFrom(header: string | string[] | undefined): string {
  if (header === undefined) return DEFAULT_TASK;
  const task = Array.isArray(header) ? header[0] : header;
  if (!task || !TASK_PATTERN.test(task)) {
    throw new GatewayError(
      "invalid_request",
      "x-switchboard-task must be 1-64 lowercase letters, digits, '.', '_' or '-'.",
      { param: "x-switchboard-task" },
    );
  }
  return task;
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
    costUsd: "0",
    ttftMs: null,
  };
}
