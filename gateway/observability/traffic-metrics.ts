// The gateway's RED metrics: requests, attempts and failovers by vendor,
// model, task and outcome; latency and time to first token; tokens and cost;
// and, read at each scrape, circuit breaker states and budget headroom.
//
// Label values are bounded by configuration: vendor and model are the
// configured candidates (a pair no candidate names counts as `other`), task
// the configured task classes (a task a client names that no config does,
// through x-switchboard-task or metadata.task, counts as `other`), outcome
// `success` or an error class. No request id, key, tenant or team is a label.
// Every label set is laid out at start-up (series-table.ts), so the request
// path only looks two names up in maps and adds to an array.
import type { Registry } from "prom-client";
import { Gauge } from "prom-client";
import type { EventSink } from "../../eventlog/ports.ts";
import { formatDecimal } from "../../events/money.ts";
import { ERROR_CLASSES, type ErrorClass, type SwitchboardEvent } from "../../events/schemas.ts";
import type { Budgets } from "../budgets.ts";
import type { RouteTarget } from "../config.ts";
import type { CircuitState } from "../routing/circuit-breaker.ts";
import type { Health } from "../routing/route-table.ts";
import type { RoutingConfig } from "../routing/routing-config.ts";
import type { Router } from "../routing.ts";
import { type Axis, axisOf, CounterTable, HistogramTable } from "./series-table.ts";

/** A label value for what configuration does not name. */
export const OTHER = "other";
/** vendor and model of a request no candidate was tried for. */
export const NONE = "none";

/**
 * `success`, an error class, or `gateway_error`: the gateway itself failed
 * (request_completed with no error class).
 */
export const OUTCOMES = ["success", ...ERROR_CLASSES, "gateway_error"] as const;
export type TrafficOutcome = (typeof OUTCOMES)[number];

const TOKEN_TYPES = ["input", "output", "cached_input", "cache_write_input", "reasoning"] as const;
const STATUSES = ["success", "error"] as const;
const CIRCUIT_STATES: readonly CircuitState[] = ["closed", "open", "half_open"];

const METRIC_NAMES = [
  "switchboard_gateway_requests_total",
  "switchboard_gateway_attempts_total",
  "switchboard_gateway_failovers_total",
  "switchboard_gateway_tokens_total",
  "switchboard_gateway_cost_usd_total",
  "switchboard_gateway_request_duration_seconds",
  "switchboard_gateway_time_to_first_token_seconds",
  "switchboard_gateway_circuit_breaker_state",
  "switchboard_gateway_budget_headroom",
];

/** Seconds: from 50 ms to 5 minutes, LLM calls being slow and long-tailed. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];
/** Seconds: first tokens come sooner; from 10 ms to 1 minute. */
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export class TrafficMetrics {
  private readonly targetIndex = new Map<string, Map<string, number>>();
  private readonly otherTarget: number;
  private readonly noTarget: number;
  private readonly taskIndex = new Map<string, number>();
  private readonly otherTask: number;
  private readonly taskCount: number;
  private readonly outcomeIndex = new Map<string, number>();

  readonly requests: CounterTable;
  readonly attempts: CounterTable;
  readonly failovers: CounterTable;
  readonly tokens: CounterTable;
  readonly cost: CounterTable;
  readonly latency: HistogramTable;
  readonly timeToFirstToken: HistogramTable;

  constructor(
    registry: Registry,
    routes: { router: Router; routing: RoutingConfig; budgets: Budgets | null },
  ) {
    const { router, budgets } = routes;
    // One gateway per registry: a second built on it (tests) replaces the first's series.
    for (const name of METRIC_NAMES) registry.removeSingleMetric(name);
    const health = healthRecordsOf(router);
    const targets: string[][] = [];
    for (const { target } of health) {
      let models = this.targetIndex.get(target.vendor);
      if (!models) {
        models = new Map();
        this.targetIndex.set(target.vendor, models);
      }
      models.set(target.model, targets.length);
      targets.push([target.vendor, target.model]);
    }
    this.otherTarget = targets.push([OTHER, OTHER]) - 1;
    this.noTarget = targets.push([NONE, NONE]) - 1;
    // A task configured as `other` shares the slot of tasks no config names.
    const tasks = taskNamesOf(router, routes.routing).filter((name) => name !== OTHER);
    for (const [index, task] of tasks.entries()) this.taskIndex.set(task, index);
    this.otherTask = tasks.length;
    this.taskCount = tasks.length + 1;
    for (const [index, outcome] of OUTCOMES.entries()) this.outcomeIndex.set(outcome, index);

    const target: Axis = { labelNames: ["vendor", "model"], values: targets };
    const task = axisOf("task", [...tasks, OTHER]);
    const outcome = axisOf("outcome", OUTCOMES);
    this.requests = new CounterTable(
      {
        name: "switchboard_gateway_requests_total",
        help: "Routed requests, by the candidate that answered or was tried last (none: no candidate was tried), task and outcome (success, an error class, gateway_error).",
      },
      [target, task, outcome],
      registry,
    );
    this.attempts = new CounterTable(
      {
        name: "switchboard_gateway_attempts_total",
        help: "Calls to a vendor, retries included, by candidate, task and outcome (success, or the attempt's error class; client_error: the vendor refused the client's request).",
      },
      [target, task, outcome],
      registry,
    );
    this.failovers = new CounterTable(
      {
        name: "switchboard_gateway_failovers_total",
        help: "Times the gateway left a candidate for the next one, by the candidate left, task and the error class that made it leave.",
      },
      [target, task, outcome],
      registry,
    );
    this.tokens = new CounterTable(
      {
        name: "switchboard_gateway_tokens_total",
        help: "Tokens recorded in request_completed, by candidate, task and type (input includes cached_input and cache_write_input; output includes reasoning).",
      },
      [target, task, axisOf("type", TOKEN_TYPES)],
      registry,
    );
    this.cost = new CounterTable(
      {
        name: "switchboard_gateway_cost_usd_total",
        help: "Cost owed in USD as recorded in request_completed, by candidate and task. A float sum for dashboards; the ledger's Decimal is the exact figure.",
      },
      [target, task],
      registry,
    );
    this.latency = new HistogramTable(
      {
        name: "switchboard_gateway_request_duration_seconds",
        help: "Time from routing to the request's completion (the whole stream, for a stream), by candidate, task and status.",
      },
      [target, task, axisOf("status", STATUSES)],
      LATENCY_BUCKETS,
      registry,
    );
    this.timeToFirstToken = new HistogramTable(
      {
        name: "switchboard_gateway_time_to_first_token_seconds",
        help: "Streamed requests answered: time from routing to the first token, by candidate and task.",
      },
      [target, task],
      TTFT_BUCKETS,
      registry,
    );

    new Gauge({
      name: "switchboard_gateway_circuit_breaker_state",
      help: "1 for the state each candidate's circuit breaker is in (closed, open, half_open), 0 for the others; read at each scrape.",
      labelNames: ["vendor", "model", "state"] as const,
      registers: [registry],
      collect() {
        for (const { target, breaker } of health) {
          const current = breaker.state();
          for (const state of CIRCUIT_STATES) {
            this.set(
              { vendor: target.vendor, model: target.model, state },
              state === current ? 1 : 0,
            );
          }
        }
      },
    });
    new Gauge({
      name: "switchboard_gateway_budget_headroom",
      help: "What is left of each budget's limit (soft, hard) this period, in its unit (usd, tokens); negative when spent past it; read at each scrape.",
      labelNames: ["budget", "unit", "limit"] as const,
      registers: [registry],
      collect() {
        this.reset();
        const all = budgets?.all ?? [];
        const now = Date.now();
        for (const state of all) {
          // A period that has ended starts from zero; the budget rolls over at its next request.
          const spent = now >= state.periodEnd || now < state.periodStart ? 0n : state.spent;
          for (const [limit, amount] of [
            ["soft", state.soft],
            ["hard", state.hard],
          ] as const) {
            if (amount === null) continue;
            const left = amount - spent;
            this.set(
              { budget: state.config.id, unit: state.config.unit, limit },
              state.config.unit === "usd" ? Number(formatDecimal(left)) : Number(left),
            );
          }
        }
      },
    });
  }

  /** The sink, counting the request_completed events the ledger publishes through it. */
  counting(sink: EventSink): EventSink {
    return {
      publish: (event: SwitchboardEvent) => {
        if (event.event_type === "request_completed") this.completed(event);
        sink.publish(event);
      },
      append: (topic, key, value) => sink.append(topic, key, value),
      flush: () => sink.flush(),
      close: () => sink.close(),
    };
  }

  /** One attempt's outcome: success, or the error class it failed with. */
  attemptEnded(target: RouteTarget, task: string, outcome: TrafficOutcome): void {
    this.attempts.add(this.cellOf(target.vendor, target.model, task, OUTCOMES.length, outcome));
  }

  /** The gateway left `target` for the next candidate after a failure of this class. */
  failedOver(target: RouteTarget, task: string, errorClass: ErrorClass): void {
    this.failovers.add(this.cellOf(target.vendor, target.model, task, OUTCOMES.length, errorClass));
  }

  private completed(event: Extract<SwitchboardEvent, { event_type: "request_completed" }>): void {
    const row = this.rowOf(event.vendor, event.model, event.task);
    const outcome = event.status === "success" ? "success" : (event.error_class ?? "gateway_error");
    this.requests.add(row * OUTCOMES.length + (this.outcomeIndex.get(outcome) as number));
    this.latency.record(row * 2 + (event.status === "success" ? 0 : 1), event.latency_ms / 1000);
    if (event.streamed && event.status === "success" && event.ttft_ms !== null) {
      this.timeToFirstToken.record(row, event.ttft_ms / 1000);
    }
    const tokens = row * TOKEN_TYPES.length;
    if (event.input_tokens > 0) this.tokens.add(tokens, event.input_tokens);
    if (event.output_tokens > 0) this.tokens.add(tokens + 1, event.output_tokens);
    if (event.cached_input_tokens > 0) this.tokens.add(tokens + 2, event.cached_input_tokens);
    if (event.cache_write_input_tokens > 0) {
      this.tokens.add(tokens + 3, event.cache_write_input_tokens);
    }
    if (event.reasoning_tokens > 0) this.tokens.add(tokens + 4, event.reasoning_tokens);
    // Prometheus holds float64: the sum drifts from the exact total by rounding
    // over many requests. It is for rates and dashboards; the ledger's
    // Decimal(38, 18) in ClickHouse stays the figure to bill and reconcile by.
    const costUsd = Number(event.cost_usd);
    if (costUsd > 0) this.cost.add(row, costUsd);
  }

  /** The (candidate, task) row: its cell on an axis of `width` is `row × width + position`. */
  private rowOf(vendor: string | null, model: string | null, task: string): number {
    const target =
      vendor === null || model === null
        ? this.noTarget
        : (this.targetIndex.get(vendor)?.get(model) ?? this.otherTarget);
    return target * this.taskCount + (this.taskIndex.get(task) ?? this.otherTask);
  }

  private cellOf(
    vendor: string,
    model: string,
    task: string,
    width: number,
    position: string,
  ): number {
    return this.rowOf(vendor, model, task) * width + (this.outcomeIndex.get(position) as number);
  }
}

/** Each vendor-model's health record once, with the candidate it belongs to. */
function healthRecordsOf(router: Router): { target: RouteTarget; breaker: Health["breaker"] }[] {
  const seen = new Map<Health, RouteTarget>();
  for (const plan of router.table.plans()) {
    for (const candidate of plan.candidates) {
      if (!seen.has(candidate.health)) seen.set(candidate.health, candidate);
    }
  }
  return [...seen].map(([health, target]) => ({
    target: { vendor: target.vendor, model: target.model },
    breaker: health.breaker,
  }));
}

/** Every task class configuration names: its task lists, the default and the rules' tasks. */
function taskNamesOf(router: Router, routing: RoutingConfig): string[] {
  const named = [routing.default_task, ...routing.rules.map((rule) => rule.task)];
  return [...new Set([...router.table.tasks.keys(), ...named])].sort();
}
