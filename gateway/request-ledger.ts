import type { EventSink } from "../eventlog/ports.ts";
import { eventTime, newEventId } from "../events/ids.ts";
import type { ErrorClass, RequestCompleted, ServiceTier } from "../events/schemas.ts";
import type { HeuristicScore } from "./answer-heuristics.ts";
import type { Caller } from "./auth.ts";
import type { Budgets } from "./budgets.ts";
import type { RouteTarget } from "./config.ts";
import type { CostBook, CostQuote } from "./costs.ts";
import type { AttemptFailure } from "./failures.ts";
import { type NeutralFinish, NO_USAGE, type NormalizedUsage } from "./neutral.ts";
import { boundedWarnings } from "./reflected-text.ts";
import { scoredRequestOf } from "./request-owners.ts";
import type { NextStep } from "./routing/retry-policy.ts";
import type { TaskSource } from "./routing/task-class.ts";
import type { RouteDecision } from "./routing.ts";

const NEXT_CANDIDATE: NextStep = { action: "next_candidate", backoffMs: null };

export interface Outcome {
  target: RouteTarget | null;
  responseModel: string | null;
  status: "success" | "error";
  httpStatus: number;
  errorClass: ErrorClass | null;
  usage: NormalizedUsage;
  /** Whether the vendor reported the usage, or the gateway counted it (usage-estimate.ts). */
  usageSource: "reported" | "estimated";
  ttftMs: number | null;
  /** The gateway's warnings for the client (x-switchboard-warnings); never prompt text. */
  warnings?: readonly string[];
  /** How the answer ended, when the vendor said so; none for a failure. */
  finish?: NeutralFinish | null;
  /** The tier that served it, and the vendor's word for it; standard and none said when not given. */
  serviceTier?: ServedTier;
}

/** The tier a request was served and billed at, and the vendor's own word for it. */
export interface ServedTier {
  tier: ServiceTier;
  /** As the vendor sent it; null when it said none. */
  vendorWord: string | null;
  /** Why the tier billed is not the vendor's word (a word the price card has no tier for). */
  warning?: string;
}

const STANDARD_UNSAID: ServedTier = { tier: "standard", vendorWord: null };

/** request_completed v3 bounds response_model, which the vendor writes (events/schemas.ts). */
const MAX_RESPONSE_MODEL_LENGTH = 256;

/** request_completed's warning when the gateway itself failed after routing (failedUnexpectedly). */
export const GATEWAY_FAILURE_WARNING =
  "the gateway failed after routing (internal_error, logged with this request id); no usage was recorded";
/** The same, when the client already had its answer's status (a stream): its usage is unknown. */
export const GATEWAY_FAILURE_AFTER_ANSWER_WARNING =
  "the gateway failed after the answer began (internal_error, logged with this request id); its usage was not recorded";

/** completed() called for a request that already has its request_completed. */
export class DuplicateCompletionError extends Error {
  override name = "DuplicateCompletionError";
  constructor(requestId: string) {
    super(`request ${requestId} already has its request_completed; a second was refused`);
  }
}

/**
 * Turns what happens to one request into its events: the routing decision,
 * each failed attempt, and the completion. Publishing only buffers; nothing
 * here waits on the log.
 *
 * Each event is one plain object literal, envelope fields written out: a
 * literal that starts with a spread (`{ ...envelope, … }`) and goes on for
 * thirty fields becomes a slow dictionary-mode object in V8, which cost
 * about 60 µs per event to build and serialise against 3 µs this way.
 */
export class RequestLedger {
  private attempts = 0;
  /** The candidate of the latest attempt: who a failure inside the gateway is recorded against. */
  private lastTarget: RouteTarget | null = null;
  private readonly startedAt = performance.now();
  /**
   * What completed() published, which the scores of the answer that follow
   * it carry. Set once: a request has exactly one request_completed.
   */
  private completion: RequestCompleted | null = null;

  constructor(
    private readonly sink: EventSink,
    private readonly context: {
      requestId: string;
      tenantId: string;
      task: string;
      requestModel: string;
      streamed: boolean;
      /** Who called: key_id, team and tags in the completion, and the budgets it counts against. */
      caller: Caller;
      /** Epoch ms the request arrived: the price card and contract in force then price it. */
      requestedAt: number;
      costs: CostBook;
      budgets: Budgets | null;
      /** Only for keys with store_prompt_hash (prompt-hash.ts). */
      promptSha256: string | null;
      /** The request's logger: what fails after request_completed is published is told here. */
      log: { error(details: object, message: string): void };
    },
  ) {}

  get attemptCount(): number {
    return this.attempts;
  }

  /** Whether request_completed was published; after that completed() refuses. */
  get isCompleted(): boolean {
    return this.completion !== null;
  }

  elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  /** Every candidate of the decision, tried ones first in order, then the skipped with why. */
  routeDecided(decision: RouteDecision, taskSource: TaskSource): void {
    const chosen = decision.attempts[0] ?? null;
    this.sink.publish({
      event_id: newEventId(),
      occurred_at: eventTime(),
      tenant_id: this.context.tenantId,
      request_id: this.context.requestId,
      event_type: "route_decided",
      schema_version: 2,
      task: this.context.task,
      task_source: taskSource,
      score_basis: decision.scoreBasis,
      request_model: this.context.requestModel,
      policy: decision.policy,
      candidates: decision.entries.map((entry, index) => ({
        vendor: entry.candidate.vendor,
        model: entry.candidate.model,
        rank: index + 1,
        score: entry.score,
        skipped_reason: entry.skippedReason,
      })),
      chosen_vendor: chosen?.vendor ?? null,
      chosen_model: chosen?.model ?? null,
      reason: decision.reason,
    });
  }

  attemptStarted(target: RouteTarget): number {
    this.attempts += 1;
    this.lastTarget = target;
    return performance.now();
  }

  /** One failed attempt, and what the gateway does next (`next`: retry after `backoffMs`, …). */
  attemptFailed(
    target: RouteTarget,
    failure: AttemptFailure,
    attemptStartedAt: number,
    next: NextStep = NEXT_CANDIDATE,
  ): void {
    this.sink.publish({
      event_id: newEventId(),
      occurred_at: eventTime(),
      tenant_id: this.context.tenantId,
      request_id: this.context.requestId,
      event_type: "attempt_failed",
      schema_version: 3,
      task: this.context.task,
      request_model: this.context.requestModel,
      vendor: target.vendor,
      model: target.model,
      attempt: this.attempts,
      streamed: this.context.streamed,
      error_class: failure.errorClass,
      error_code: failure.code,
      next_action: next.action,
      backoff_ms: next.backoffMs,
      key_id: this.context.caller.keyId,
      team: this.context.caller.team,
      tags: [...this.context.caller.tags],
      http_status: failure.httpStatus,
      latency_ms: Math.round(performance.now() - attemptStartedAt),
    });
  }

  /**
   * Prices the outcome (list and contracted, at the card in force when the
   * request arrived), publishes request_completed, and adds the spend to the
   * caller's budgets, which may publish budget_alerted. Returns the price.
   * Throws DuplicateCompletionError, publishing nothing, when the request
   * already has its request_completed. A throw before publishing (pricing)
   * leaves it open, for failedUnexpectedly.
   */
  completed(outcome: Outcome): CostQuote {
    if (this.completion !== null) throw new DuplicateCompletionError(this.context.requestId);
    const { caller, costs } = this.context;
    const served = outcome.serviceTier ?? STANDARD_UNSAID;
    const quote = costs.quote(outcome.target, outcome.usage, this.context.requestedAt, served.tier);
    const warnings = [...(outcome.warnings ?? [])];
    if (served.warning) warnings.push(served.warning);
    warnings.push(...quote.warnings);
    if (!quote.priceKnown && outcome.target) {
      warnings.push(
        `no price card for ${outcome.target.vendor}/${outcome.target.model} at ${new Date(this.context.requestedAt).toISOString()}: cost recorded as 0`,
      );
    }
    const completion: RequestCompleted = {
      event_id: newEventId(),
      occurred_at: eventTime(),
      tenant_id: this.context.tenantId,
      request_id: this.context.requestId,
      event_type: "request_completed",
      schema_version: 4,
      task: this.context.task,
      request_model: this.context.requestModel,
      vendor: outcome.target?.vendor ?? null,
      model: outcome.target?.model ?? null,
      response_model: outcome.responseModel?.slice(0, MAX_RESPONSE_MODEL_LENGTH) ?? null,
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
      key_id: caller.keyId,
      team: caller.team,
      tags: [...caller.tags],
      list_cost_usd: quote.listCostUsd,
      cost_usd: quote.costUsd,
      contract_id: quote.contractId,
      price_known: quote.priceKnown,
      prompt_sha256: this.context.promptSha256,
      warnings: boundedWarnings(warnings),
      price_card_version: quote.priceCardVersion,
      latency_ms: this.elapsedMs(),
      ttft_ms: outcome.ttftMs,
      finish_reason: outcome.finish?.reason ?? null,
      vendor_finish_reason: outcome.finish?.vendorReason ?? null,
      service_tier: served.tier,
      vendor_service_tier: served.vendorWord,
    };
    this.sink.publish(completion);
    // Marked once published, before the budgets: their failure cannot bring a second one.
    this.completion = completion;
    try {
      this.context.budgets?.record(
        caller.budgets,
        {
          costScaled: quote.costScaled,
          tokens: outcome.usage.inputTokens + outcome.usage.outputTokens,
        },
        { tenantId: this.context.tenantId, requestId: this.context.requestId },
      );
    } catch (error) {
      // The record stands and the client gets what it says; budgets are seeded from the
      // stored completions at the next start (budget-seed.ts).
      this.context.log.error(
        { err: error },
        "the budgets could not count this request's spend; its request_completed has it",
      );
    }
    return quote;
  }

  /**
   * The safety net of every dispatch after route_decided: when something the
   * gateway runs threw and the request has no request_completed yet, records
   * it failed (no error class: no vendor is at fault; no usage) against the
   * last candidate tried, with the status the client got: 500, or the 200 of
   * a stream already begun, whose warning then says its usage is missing. If
   * pricing is what throws, it is recorded without a candidate, which prices
   * nothing. Returns whether it recorded.
   */
  failedUnexpectedly(httpStatus = 500): boolean {
    if (this.completion !== null) return false;
    const outcome: Outcome = {
      target: this.lastTarget,
      responseModel: null,
      status: "error",
      httpStatus,
      errorClass: null,
      usage: NO_USAGE,
      usageSource: "reported",
      ttftMs: null,
      warnings: [httpStatus < 400 ? GATEWAY_FAILURE_AFTER_ANSWER_WARNING : GATEWAY_FAILURE_WARNING],
    };
    try {
      this.completed(outcome);
    } catch (error) {
      if (this.completion !== null) return true;
      if (outcome.target === null) throw error;
      this.completed({ ...outcome, target: null });
    }
    return true;
  }

  /**
   * The gateway's own scores of the answer (answer-heuristics.ts), as
   * quality_scored events carrying the request as completed() recorded it.
   */
  heuristicScores(scores: readonly HeuristicScore[]): void {
    if (scores.length === 0) return;
    if (this.completion === null) {
      throw new Error("heuristic scores come after the request completed");
    }
    const scoredRequest = scoredRequestOf(this.completion);
    for (const score of scores) {
      this.sink.publish({
        event_id: newEventId(),
        occurred_at: eventTime(),
        tenant_id: this.context.tenantId,
        request_id: this.context.requestId,
        event_type: "quality_scored",
        schema_version: 2,
        metric: score.metric,
        value: score.value,
        source: "heuristic",
        gold_set_name: null,
        gold_set_version: null,
        comment: score.comment,
        scored_request: scoredRequest,
      });
    }
  }
}
