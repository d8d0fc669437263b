import type { EventSink } from "../eventlog/ports.ts";
import { eventTime, newEventId } from "../events/ids.ts";
import type { ErrorClass } from "../events/schemas.ts";
import type { RouteTarget } from "./config.ts";
import type { AttemptFailure } from "./failures.ts";
import type { NormalizedUsage } from "./neutral.ts";
import type { RoutePlan } from "./routing.ts";

export interface Outcome {
  target: RouteTarget | null;
  responseModel: string | null;
  status: "success" | "error";
  httpStatus: number;
  errorClass: ErrorClass | null;
  usage: NormalizedUsage;
  /** Whether the vendor reported the usage, or the gateway counted it (usage-estimate.ts). */
  usageSource: "reported" | "estimated";
  costUsd: string;
  ttftMs: number | null;
}

/**
 * Turns what happens to one request into its events: the routing decision,
 * each failed attempt, and the completion. Publishing only buffers; nothing
 * here waits on the log.
 */
export class RequestLedger {
  private attempts = 0;
  private readonly startedAt = performance.now();

  constructor(
    private readonly sink: EventSink,
    private readonly context: {
      requestId: string;
      tenantId: string;
      task: string;
      requestModel: string;
      streamed: boolean;
      priceCardVersion: string;
    },
  ) {}

  get attemptCount(): number {
    return this.attempts;
  }

  elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  /** `skipped` names candidates that will not be tried, with why (a vendor without embeddings). */
  routeDecided(plan: RoutePlan, skipped: ReadonlyMap<RouteTarget, string> = new Map()): void {
    const chosen = plan.candidates.find((candidate) => !skipped.has(candidate)) ?? null;
    this.sink.publish({
      ...this.envelope(),
      event_type: "route_decided",
      schema_version: 2,
      task: this.context.task,
      task_source: this.context.task === "general" ? "default" : "header",
      score_basis: null,
      request_model: this.context.requestModel,
      policy: plan.policy,
      candidates: plan.candidates.map((candidate, index) => ({
        vendor: candidate.vendor,
        model: candidate.model,
        rank: index + 1,
        score: null,
        skipped_reason: skipped.get(candidate) ?? null,
      })),
      chosen_vendor: chosen?.vendor ?? null,
      chosen_model: chosen?.model ?? null,
      reason:
        plan.candidates.length > 1
          ? "first of the route's ordered fallback list; later ones on retryable failure"
          : "the only candidate",
    });
  }

  attemptStarted(): number {
    this.attempts += 1;
    return performance.now();
  }

  attemptFailed(target: RouteTarget, failure: AttemptFailure, attemptStartedAt: number): void {
    this.sink.publish({
      ...this.envelope(),
      event_type: "attempt_failed",
      schema_version: 2,
      task: this.context.task,
      request_model: this.context.requestModel,
      vendor: target.vendor,
      model: target.model,
      attempt: this.attempts,
      streamed: this.context.streamed,
      error_class: failure.errorClass,
      error_code: failure.code,
      next_action: "next_candidate",
      backoff_ms: null,
      http_status: failure.httpStatus,
      latency_ms: Math.round(performance.now() - attemptStartedAt),
    });
  }

  completed(outcome: Outcome): void {
    this.sink.publish({
      ...this.envelope(),
      event_type: "request_completed",
      schema_version: 2,
      task: this.context.task,
      request_model: this.context.requestModel,
      vendor: outcome.target?.vendor ?? null,
      model: outcome.target?.model ?? null,
      response_model: outcome.responseModel,
      attempts: this.attempts,
      streamed: this.context.streamed,
      status: outcome.status,
      http_status: outcome.httpStatus,
      error_class: outcome.errorClass,
      input_tokens: outcome.usage.inputTokens,
      output_tokens: outcome.usage.outputTokens,
      cached_input_tokens: outcome.usage.cachedInputTokens,
      cache_write_input_tokens: outcome.usage.cacheWriteInputTokens,
      reasoning_tokens: outcome.usage.reasoningTokens,
      usage_source: outcome.usageSource,
      key_id: null,
      team: null,
      tags: [],
      list_cost_usd: outcome.costUsd,
      cost_usd: outcome.costUsd,
      contract_id: null,
      price_known: true,
      prompt_sha256: null,
      warnings: [],
      price_card_version: this.context.priceCardVersion,
      latency_ms: this.elapsedMs(),
      ttft_ms: outcome.ttftMs,
    });
  }

  private envelope() {
    return {
      event_id: newEventId(),
      occurred_at: eventTime(),
      tenant_id: this.context.tenantId,
      request_id: this.context.requestId,
    };
  }
}
