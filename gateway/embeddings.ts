// POST /v1/embeddings: routed like chat, to the candidates whose protocol has
// an embeddings API; the others are skipped, and the routing event says why.
import type { FastifyReply, FastifyRequest } from "fastify";
import { runAttempts } from "./attempt-loop.ts";
import {
  beginCall,
  type CallContext,
  completingOnce,
  type DispatchDependencies,
  estimatedInputTokens,
  failedOutcome,
  finalFailure,
  noCandidateFailure,
  routingHeaders,
  sendAttempt,
  sendError,
} from "./chat-dispatch.ts";
import { GatewayError } from "./errors.ts";
import { failureFromError, isForTheLoop, toGatewayError, UpstreamAnswerError } from "./failures.ts";
import {
  type EmbeddingsRequest,
  fromOpenAIEmbeddingsUsage,
  inputTextsOf,
  parseEmbeddingsRequest,
} from "./inbound/openai-embeddings.ts";
import type { NormalizedUsage } from "./neutral.ts";
import { TokenCounter } from "./token-count.ts";
import { settleUsage, warningsAfterSettling } from "./usage-estimate.ts";

const openAIErrors = { renderError: (error: GatewayError) => error.toOpenAI() };

export async function embeddings(
  request: FastifyRequest,
  reply: FastifyReply,
  dependencies: DispatchDependencies,
): Promise<void> {
  const body = parseEmbeddingsRequest(request.body);
  const upstreams = dependencies.upstreams;
  const call = beginCall(request, reply, dependencies, {
    model: body.model,
    streamed: false,
    prompt: { api: "embeddings", body: body as Record<string, unknown> },
    routing: {
      metadataTask: undefined,
      hasTools: false,
      responseFormat: undefined,
      models: null,
      provider: null,
      inputTokens: estimatedInputTokens(request),
      maxOutputTokens: null,
      refuse: (candidate) => {
        const adapter = upstreams.get(candidate.vendor)?.adapter;
        return adapter?.embeddings ? null : `protocol ${adapter?.protocol} has no embeddings API`;
      },
    },
  });
  const entries = call.decision.entries;
  if (entries.every((entry) => !upstreams.get(entry.candidate.vendor)?.adapter.embeddings)) {
    throw new GatewayError(
      "unsupported_by_vendor",
      `No candidate of model "${body.model}" offers embeddings (${entries.map((entry) => entry.skippedReason).join("; ")}).`,
      { param: "model" },
    );
  }
  call.ledger.routeDecided(call.decision, call.taskSource);
  await completingOnce(call, reply, openAIErrors, () =>
    attemptEmbeddings(reply, dependencies, call, body),
  );
}

/** The candidates tried in turn for one embeddings request, after route_decided. */
async function attemptEmbeddings(
  reply: FastifyReply,
  dependencies: DispatchDependencies,
  call: CallContext,
  body: EmbeddingsRequest,
): Promise<void> {
  const upstreams = dependencies.upstreams;
  if (call.decision.attempts.length === 0) {
    const failure = noCandidateFailure(call, body.model);
    call.ledger.completed(failedOutcome(null, failure.cause, failure.error.status));
    throw failure.error;
  }

  const exhausted = await runAttempts(call, dependencies.router, async (target) => {
    const upstream = upstreams.get(target.vendor);
    const capability = upstream?.adapter.embeddings;
    if (!upstream || !capability) throw new Error(`no embeddings upstream for ${target.vendor}`);
    const upstreamRequest = capability.toRequest(body, target.model);
    const sent = await sendAttempt(upstream, upstreamRequest, call);
    if ("failure" in sent) {
      if (isForTheLoop(sent.failure)) return { outcome: "failed", failure: sent.failure };
      call.ledger.completed({
        ...failedOutcome(target, sent.failure, sent.failure.httpStatus ?? 400),
        warnings: upstreamRequest.warnings,
      });
      reply.headers(routingHeaders(call, target, upstreamRequest.warnings));
      sendError(
        reply,
        openAIErrors,
        toGatewayError(sent.failure, sent.failure.httpStatus ?? undefined),
      );
      return { outcome: "refused" };
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
      return { outcome: "failed", failure };
    }
    const settled = settleUsage(
      fromOpenAIEmbeddingsUsage((answer as { usage?: unknown } | null)?.usage),
      () => estimateEmbeddingsUsage(body),
    );
    const warnings = warningsAfterSettling(
      upstreamRequest.warnings,
      settled,
      target.vendor,
      dependencies.metrics,
    );
    const responseModel = (answer as { model?: unknown } | null)?.model;
    const { costUsd } = call.ledger.completed({
      target,
      responseModel: typeof responseModel === "string" ? responseModel : null,
      status: "success",
      httpStatus: 200,
      errorClass: null,
      usage: settled.usage,
      usageSource: settled.source,
      ttftMs: call.ledger.elapsedMs(),
      warnings,
    });
    reply.headers({
      ...routingHeaders(call, target, warnings),
      "x-switchboard-cost-usd": costUsd,
    });
    reply.type("application/json").send(text);
    return { outcome: "answered", ttftMs: null, outputTokens: 0 };
  });
  if (!exhausted) return;
  const failure = finalFailure(exhausted.failures, call.decision.attempts.length, body.model);
  call.ledger.completed(failedOutcome(exhausted.lastTarget, failure.cause, failure.error.status));
  if (exhausted.lastTarget) reply.headers(routingHeaders(call, exhausted.lastTarget, []));
  throw failure.error;
}

function estimateEmbeddingsUsage(body: Parameters<typeof inputTextsOf>[0]): NormalizedUsage {
  const { texts, tokens } = inputTextsOf(body);
  const counter = new TokenCounter();
  const counted = texts.reduce((sum, text) => sum + counter.count(text), tokens);
  return {
    inputTokens: counted,
    cachedInputTokens: 0,
    cacheWriteInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
  };
}
