// POST /v1/embeddings: routed like chat, to the candidates whose protocol has
// an embeddings API; the others are skipped, and the routing event says why.
import type { FastifyReply, FastifyRequest } from "fastify";
import { countTokens } from "gpt-tokenizer";
import {
  beginCall,
  type DispatchDependencies,
  failedOutcome,
  finalFailure,
  routingHeaders,
  sendAttempt,
  sendError,
} from "./chat-dispatch.ts";
import type { RouteTarget } from "./config.ts";
import { GatewayError } from "./errors.ts";
import {
  type AttemptFailure,
  failureFromError,
  toGatewayError,
  UpstreamAnswerError,
} from "./failures.ts";
import { bearerKeyOf } from "./inbound/inbound-api.ts";
import {
  fromOpenAIEmbeddingsUsage,
  inputTextsOf,
  parseEmbeddingsRequest,
} from "./inbound/openai-embeddings.ts";
import type { NormalizedUsage } from "./neutral.ts";

const openAIErrors = { renderError: (error: GatewayError) => error.toOpenAI() };

export async function embeddings(
  request: FastifyRequest,
  reply: FastifyReply,
  dependencies: DispatchDependencies,
): Promise<void> {
  const apiKey = bearerKeyOf(request.headers.authorization);
  const body = parseEmbeddingsRequest(request.body);
  const call = beginCall(request, reply, dependencies, {
    apiKey,
    model: body.model,
    streamed: false,
  });
  const skipped = new Map<RouteTarget, string>();
  for (const target of call.plan.candidates) {
    const protocol = dependencies.upstreams.get(target.vendor)?.adapter;
    if (!protocol?.embeddings)
      skipped.set(target, `protocol ${protocol?.protocol} has no embeddings API`);
  }
  if (skipped.size === call.plan.candidates.length) {
    throw new GatewayError(
      "unsupported_by_vendor",
      `No candidate of model "${body.model}" offers embeddings (${[...skipped.values()].join("; ")}).`,
      { param: "model" },
    );
  }
  call.ledger.routeDecided(call.plan, skipped);

  const failures: AttemptFailure[] = [];
  let lastTarget: RouteTarget | null = null;
  for (const target of call.plan.candidates) {
    const upstream = dependencies.upstreams.get(target.vendor);
    const capability = upstream?.adapter.embeddings;
    if (!upstream || !capability) continue;
    lastTarget = target;
    const upstreamRequest = capability.toRequest(body, target.model);
    const attemptStartedAt = call.ledger.attemptStarted();
    const sent = await sendAttempt(upstream, upstreamRequest, call);
    if ("failure" in sent) {
      failures.push(sent.failure);
      if (sent.failure.retryable) {
        call.ledger.attemptFailed(target, sent.failure, attemptStartedAt);
        if (call.clientGone.signal.aborted) break;
        continue;
      }
      call.ledger.completed(failedOutcome(target, sent.failure, sent.failure.httpStatus ?? 400));
      reply.headers(routingHeaders(call, target, upstreamRequest.warnings));
      sendError(
        reply,
        openAIErrors,
        toGatewayError(sent.failure, sent.failure.httpStatus ?? undefined),
      );
      return;
    }
    let text: string;
    let answer: unknown;
    try {
      text = await sent.response.body.text();
      answer = JSON.parse(text);
    } catch (error) {
      const failure = failureFromError(
        error instanceof SyntaxError ? new UpstreamAnswerError(error.message) : error,
      );
      failures.push(failure);
      call.ledger.attemptFailed(target, failure, attemptStartedAt);
      continue;
    }
    const reported = fromOpenAIEmbeddingsUsage((answer as { usage?: unknown } | null)?.usage);
    const usage = reported ?? estimateEmbeddingsUsage(body);
    const price = dependencies.prices.priceOf(target);
    if (!price) throw new Error(`no price for ${target.vendor}/${target.model}`);
    const costUsd = dependencies.prices.cost(price, usage);
    const responseModel = (answer as { model?: unknown } | null)?.model;
    call.ledger.completed({
      target,
      responseModel: typeof responseModel === "string" ? responseModel : null,
      status: "success",
      httpStatus: 200,
      errorClass: null,
      usage,
      usageSource: reported ? "reported" : "estimated",
      costUsd,
      ttftMs: call.ledger.elapsedMs(),
    });
    reply.headers({
      ...routingHeaders(call, target, upstreamRequest.warnings),
      "x-switchboard-cost-usd": costUsd,
    });
    reply.type("application/json").send(text);
    return;
  }
  const failure = finalFailure(failures, call.plan.candidates.length - skipped.size, body.model);
  call.ledger.completed(failedOutcome(lastTarget, failure.cause, failure.error.status));
  if (lastTarget) reply.headers(routingHeaders(call, lastTarget, []));
  throw failure.error;
}

function estimateEmbeddingsUsage(body: Parameters<typeof inputTextsOf>[0]): NormalizedUsage {
  const { texts, tokens } = inputTextsOf(body);
  const counted = texts.reduce((sum, text) => sum + countTokens(text), tokens);
  return {
    inputTokens: counted,
    cachedInputTokens: 0,
    cacheWriteInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
  };
}
