import type { FastifyReply, FastifyRequest } from "fastify";
import type { Dispatcher } from "undici";
import type { EventSink } from "../eventlog/ports.ts";
import type { ApiKeys } from "./auth.ts";
import { parseChatCompletionRequest } from "./chat-request.ts";
import type { RouteTarget } from "./config.ts";
import { GatewayError } from "./errors.ts";
import { type AttemptFailure, failureFromError, failureFromStatus } from "./failures.ts";
import type { PriceCatalog, TokenUsage } from "./pricing.ts";
import { type Outcome, RequestLedger } from "./request-ledger.ts";
import type { Router } from "./routing.ts";
import { relayOpenAIStream } from "./stream-relay.ts";
import type { Upstream } from "./upstream.ts";
import {
  CHAT_COMPLETIONS_PATH,
  fromOpenAIUsage,
  toOpenAIRequestBody,
} from "./vendors/openai-compatible.ts";

export interface ChatCompletionsDependencies {
  apiKeys: ApiKeys;
  router: Router;
  prices: PriceCatalog;
  upstreams: Map<string, Upstream>;
  sink: EventSink;
  newRequestId(): string;
}

const TASK_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
export const DEFAULT_TASK = "general";

/**
 * POST /v1/chat/completions: authenticate, validate, route, then try each
 * candidate in order until one answers. A retryable failure (429, 5xx,
 * timeout, connection) moves to the next candidate before any byte reaches
 * the client; a request the vendor rejects as invalid goes back as it is.
 */
export async function chatCompletions(
  request: FastifyRequest,
  reply: FastifyReply,
  dependencies: ChatCompletionsDependencies,
): Promise<void> {
  const caller = dependencies.apiKeys.authenticate(request.headers.authorization);
  const body = parseChatCompletionRequest(request.body);
  const plan = dependencies.router.planFor(body.model);
  if (!plan) {
    throw new GatewayError(
      "model_not_found",
      `The model \`${body.model}\` does not exist or you do not have access to it.`,
      { param: "model" },
    );
  }
  const task = taskFrom(request.headers["x-switchboard-task"]);
  const streamed = body.stream === true;
  const requestId = dependencies.newRequestId();
  const ledger = new RequestLedger(dependencies.sink, {
    requestId,
    tenantId: caller.tenantId,
    task,
    requestModel: body.model,
    streamed,
    priceCardVersion: dependencies.prices.version,
  });
  ledger.routeDecided(plan);

  // Aborted when the client goes away, so the upstream call stops too.
  const clientGone = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) clientGone.abort();
  });

  let lastFailure: AttemptFailure | null = null;
  let lastTarget: RouteTarget | null = null;
  for (const target of plan.candidates) {
    lastTarget = target;
    const attemptStartedAt = ledger.attemptStarted();
    const upstream = dependencies.upstreams.get(target.vendor);
    if (!upstream) throw new Error(`no upstream for vendor ${target.vendor}`);
    let response: Dispatcher.ResponseData;
    try {
      response = await upstream.post(
        CHAT_COMPLETIONS_PATH,
        toOpenAIRequestBody(body, target.model),
        clientGone.signal,
      );
    } catch (error) {
      lastFailure = failureFromError(error);
      ledger.attemptFailed(target, lastFailure, attemptStartedAt);
      if (clientGone.signal.aborted) break;
      continue;
    }
    if (response.statusCode >= 400) {
      const upstreamBody = await response.body.text().catch(() => "");
      const failure = failureFromStatus(response.statusCode, upstreamBody);
      if (!failure.retryable) {
        ledger.completed(failedOutcome(target, failure, response.statusCode));
        reply.code(response.statusCode).header("x-request-id", requestId);
        reply.type("application/json").send(upstreamErrorBody(upstreamBody, failure));
        return;
      }
      lastFailure = failure;
      ledger.attemptFailed(target, failure, attemptStartedAt);
      continue;
    }
    const routingHeaders = {
      "x-request-id": requestId,
      "x-switchboard-vendor": target.vendor,
      "x-switchboard-model": target.model,
      "x-switchboard-attempts": String(ledger.attemptCount),
    };
    const price = dependencies.prices.priceOf(target);
    if (!price) throw new Error(`no price for ${target.vendor}/${target.model}`);
    const costOf = (usage: TokenUsage) => dependencies.prices.cost(price, usage);

    if (streamed) {
      reply.hijack();
      const relayed = await relayOpenAIStream(response, reply.raw, {
        headers: routingHeaders,
        clientWantsUsage: body.stream_options?.include_usage === true,
        elapsedMs: () => ledger.elapsedMs(),
      });
      const usage = relayed.usage ?? { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0 };
      ledger.completed({
        target,
        responseModel: relayed.responseModel,
        status: relayed.failure ? "error" : "success",
        httpStatus: relayed.failure?.errorClass === "client_closed" ? 499 : 200,
        errorClass: relayed.failure?.errorClass ?? null,
        ...usageFields(usage),
        costUsd: costOf(usage),
        ttftMs: relayed.ttftMs,
      });
      return;
    }

    let answer: { usage?: unknown; model?: unknown };
    let answerText: string;
    try {
      answerText = await response.body.text();
      answer = JSON.parse(answerText);
    } catch (error) {
      lastFailure = failureFromError(error);
      ledger.attemptFailed(target, lastFailure, attemptStartedAt);
      continue;
    }
    const usage = fromOpenAIUsage(answer.usage) ?? {
      inputTokens: 0,
      outputTokens: 0,
      cachedInputTokens: 0,
    };
    const costUsd = costOf(usage);
    const elapsed = ledger.elapsedMs();
    ledger.completed({
      target,
      responseModel: typeof answer.model === "string" ? answer.model : null,
      status: "success",
      httpStatus: 200,
      errorClass: null,
      ...usageFields(usage),
      costUsd,
      ttftMs: elapsed,
    });
    reply.headers({ ...routingHeaders, "x-switchboard-cost-usd": costUsd });
    reply.type("application/json").send(answerText);
    return;
  }

  const failure = lastFailure ?? {
    errorClass: "server_error" as const,
    httpStatus: null,
    retryable: true,
    message: "no candidate was tried",
  };
  ledger.completed(failedOutcome(lastTarget, failure, 502));
  reply.header("x-request-id", requestId);
  throw new GatewayError(
    "all_vendors_failed",
    `All ${plan.candidates.length} candidate(s) for model "${body.model}" failed; the last: ${failure.message}`,
  );
}

function taskFrom(header: string | string[] | undefined): string {
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

function usageFields(usage: TokenUsage) {
  return {
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cachedInputTokens: usage.cachedInputTokens,
  };
}

function failedOutcome(
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
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    costUsd: "0",
    ttftMs: null,
  };
}

/** A vendor's own OpenAI-shaped error goes back untouched; anything else is wrapped. */
function upstreamErrorBody(upstreamBody: string, failure: AttemptFailure): string {
  try {
    const parsed = JSON.parse(upstreamBody);
    if (parsed && typeof parsed.error === "object") return upstreamBody;
  } catch {}
  return JSON.stringify(
    new GatewayError("upstream_rejected", failure.message, {
      status: failure.httpStatus ?? 400,
    }).toOpenAI(),
  );
}
