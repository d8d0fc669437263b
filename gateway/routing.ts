// The router: the route table (routing/route-table.ts) compiled at start-up,
// the task classifier, and the decision per request (routing/decision.ts).
// It also owns what failure handling reads: retry settings, and the seedable
// random source of weighted draws and backoff jitter.
import { type AbortEmitter, sleepUnlessAborted } from "./abort-emitter.ts";
import type { GatewayConfig, RouteTarget } from "./config.ts";
import { GatewayError } from "./errors.ts";
import { type DecisionInput, decide, type RouteDecision } from "./routing/decision.ts";
import type { PriceLookup } from "./routing/policies.ts";
import { unseededRandom } from "./routing/random.ts";
import type { RetrySettings } from "./routing/retry-policy.ts";
import { BY_TASK, type RoutePlan, RouteTable } from "./routing/route-table.ts";
import { type ResolvedTask, TaskClassifier, type TaskSignals } from "./routing/task-class.ts";

export type { RouteDecision } from "./routing/decision.ts";
export type { Candidate, RoutePlan } from "./routing/route-table.ts";
export type { ResolvedTask } from "./routing/task-class.ts";

export interface RouterOptions {
  /** Epoch ms, for the circuit breakers; Date.now unless a test injects a clock. */
  now?: () => number;
  /** Uniform in [0, 1): weighted draws and backoff jitter; seed it in tests. */
  random?: () => number;
  /** Waits out a backoff; resolves early when the client leaves. Tests inject one that records. */
  sleep?: (milliseconds: number, clientGone: AbortEmitter) => Promise<void>;
}

export class Router {
  readonly table: RouteTable;
  readonly retry: RetrySettings;
  readonly random: () => number;
  readonly sleep: (milliseconds: number, clientGone: AbortEmitter) => Promise<void>;
  private readonly classifier: TaskClassifier;
  private readonly defaultTask: string;

  constructor(
    config: GatewayConfig,
    private readonly prices: PriceLookup,
    options: RouterOptions = {},
  ) {
    const routing = config.routing;
    const now = options.now ?? Date.now;
    this.table = new RouteTable(config, { now });
    // A configured candidate with no price card in force stops start-up: never silently $0.
    for (const plan of this.table.plans()) {
      for (const candidate of plan.candidates) {
        if (!prices.priceOf(candidate, now())) {
          throw new Error(
            `routing "${plan.name}": ${candidate.vendor}/${candidate.model} has no price card in force`,
          );
        }
      }
    }
    this.classifier = new TaskClassifier(routing.rules, routing.default_task);
    this.defaultTask = routing.default_task;
    this.random = options.random ?? unseededRandom();
    this.sleep = options.sleep ?? sleepUnlessAborted;
    const retry = routing.retry;
    this.retry = {
      maxRetriesPerCandidate: retry.max_retries_per_candidate,
      maxAttempts: retry.max_attempts,
      baseBackoffMs: retry.base_backoff_ms,
      maxBackoffMs: retry.max_backoff_ms,
      maxRetryAfterMs: retry.max_retry_after_ms,
      totalBudgetMs: retry.total_budget_ms,
    };
  }

  /** The candidate list a client's `model` names; `task` picks it for a by-task alias. */
  planFor(model: string, task: string = this.defaultTask): RoutePlan | undefined {
    const named = this.table.names.get(model);
    if (named !== BY_TASK) return named;
    return this.table.tasks.get(task) ?? this.table.tasks.get(this.defaultTask);
  }

  resolveTask(signals: TaskSignals): ResolvedTask {
    return this.classifier.resolve(signals);
  }

  /** The lists of `model` and of each of `models`; an unknown name is a 404 naming it. */
  plansFor(model: string, task: string, models: readonly string[] | null): RoutePlan[] {
    const primary = this.planFor(model, task);
    if (!primary) throw modelNotFound(model, "model");
    if (!models) return [primary];
    const plans = [primary];
    models.forEach((name, index) => {
      const plan = this.planFor(name, task);
      if (!plan) throw modelNotFound(name, `models[${index}]`);
      if (!plans.includes(plan)) plans.push(plan);
    });
    return plans;
  }

  decide(input: Omit<DecisionInput, "prices" | "random">): RouteDecision {
    // Written out, not spread: a spread-first literal this size is a slow
    // dictionary object in V8 (request-ledger.ts), and this runs per request.
    return decide({
      plans: input.plans,
      streamed: input.streamed,
      inputTokens: input.inputTokens,
      maxOutputTokens: input.maxOutputTokens,
      hasTools: input.hasTools,
      provider: input.provider,
      refused: input.refused,
      at: input.at,
      prices: this.prices,
      random: this.random,
    });
  }

  /** Every name a client may send, with its first candidate (which `/v1/models` prices). */
  routableModels(): { id: string; primary: RouteTarget }[] {
    return [...this.table.names.keys()].flatMap((id) => {
      const primary = this.planFor(id)?.candidates[0];
      return primary ? [{ id, primary }] : [];
    });
  }
}

function modelNotFound(model: string, param: string): GatewayError {
  return new GatewayError(
    "model_not_found",
    `The model \`${model}\` does not exist or you do not have access to it.`,
    { param },
  );
}
