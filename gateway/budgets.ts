// Budgets per key and per team, in USD or tokens, over UTC calendar days and
// months. The check on the hot path is a loop over the caller's few budgets
// comparing BigInts, with no await. Spend is added when a request completes;
// the budget_alerted events are published then, once per budget, level and
// period. Spend lives in this process's memory, seeded at start from
// ClickHouse (budget-seed.ts) and fed with the other replicas' completions as
// the event log brings them (fleet-spend.ts); the README states the bound
// that leaves on a hard limit.
import type { EventSink } from "../eventlog/ports.ts";
import { eventTime, newEventId } from "../events/ids.ts";
import { formatDecimal, parseDecimal } from "../events/money.ts";
import type { ApiKeyConfig, BudgetConfig } from "./config.ts";
import { GatewayError } from "./errors.ts";

export type Clock = () => number;
export type BudgetPeriod = BudgetConfig["period"];

/** [start, end) of the UTC calendar day or month holding `at` (epoch ms). */
export function periodBounds(period: BudgetPeriod, at: number): { start: number; end: number } {
  const date = new Date(at);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  if (period === "month")
    return { start: Date.UTC(year, month, 1), end: Date.UTC(year, month + 1, 1) };
  const day = date.getUTCDate();
  return { start: Date.UTC(year, month, day), end: Date.UTC(year, month, day + 1) };
}

/** One budget's running state in the current period. */
export interface BudgetState {
  readonly config: BudgetConfig;
  /** USD × 10^18, or tokens. */
  readonly soft: bigint | null;
  readonly hard: bigint | null;
  periodStart: number;
  periodEnd: number;
  spent: bigint;
  softAlerted: boolean;
  hardAlerted: boolean;
}

/** What one completed request adds: its owed cost (× 10^18) and its tokens. */
export interface Spend {
  costScaled: bigint;
  tokens: number;
}

export class Budgets {
  private readonly states: BudgetState[];

  constructor(
    configs: readonly BudgetConfig[],
    private readonly sink: EventSink,
    private readonly clock: Clock = Date.now,
  ) {
    const now = clock();
    this.states = configs.map((config) => {
      const { start, end } = periodBounds(config.period, now);
      return {
        config,
        soft: amountOf(config, config.soft_limit),
        hard: amountOf(config, config.hard_limit),
        periodStart: start,
        periodEnd: end,
        spent: 0n,
        softAlerted: false,
        hardAlerted: false,
      };
    });
  }

  get all(): readonly BudgetState[] {
    return this.states;
  }

  /** The budgets a key answers to: its own and its team's. Computed once per key at start. */
  forKey(key: Pick<ApiKeyConfig, "id" | "team">): BudgetState[] {
    return this.states.filter(
      (state) =>
        (state.config.scope === "key" && state.config.scope_id === key.id) ||
        (state.config.scope === "team" &&
          key.team !== undefined &&
          state.config.scope_id === key.team),
    );
  }

  /**
   * Throws `budget_exceeded` (429, retry-after at the period's end) when a
   * hard limit is reached: spent ≥ limit. No await, no allocation when under.
   */
  check(states: readonly BudgetState[]): void {
    if (states.length === 0) return;
    const now = this.clock();
    for (const state of states) {
      rollOver(state, now);
      if (state.hard !== null && state.spent >= state.hard) throw exceeded(state, now);
    }
  }

  /** Adds a completed request's spend and publishes any alert it crossed into. */
  record(
    states: readonly BudgetState[],
    spend: Spend,
    request: { tenantId: string; requestId: string },
  ): void {
    if (states.length === 0) return;
    const now = this.clock();
    for (const state of states) {
      rollOver(state, now);
      this.add(state, spend, request, now);
    }
  }

  /**
   * Adds the spend of a request another replica of the fleet completed (its
   * request_completed, read back from the event log) to the budgets of its
   * key and team, when it falls in their current period. An alert it crosses
   * into is published here too, unless the fleet's has been read already
   * (`fleetAlerted`): two replicas crossing within the log's lag of each
   * other may both publish one.
   */
  recordFleet(completion: {
    keyId: string | null;
    team: string | null;
    occurredAt: number;
    spend: Spend;
    tenantId: string;
    requestId: string;
  }): void {
    const now = this.clock();
    for (const state of this.states) {
      const { scope, scope_id: scopeId } = state.config;
      if (scopeId !== (scope === "key" ? completion.keyId : completion.team)) continue;
      rollOver(state, now);
      if (completion.occurredAt < state.periodStart || completion.occurredAt >= state.periodEnd) {
        continue;
      }
      this.add(state, completion.spend, completion, now);
    }
  }

  /** A budget_alerted of the fleet: this replica will not publish the same budget, level and period again. */
  fleetAlerted(alert: { budgetId: string; level: "soft" | "hard"; periodStart: number }): void {
    const now = this.clock();
    for (const state of this.states) {
      if (state.config.id !== alert.budgetId) continue;
      rollOver(state, now);
      if (state.periodStart !== alert.periodStart) continue;
      if (alert.level === "soft") state.softAlerted = true;
      else state.hardAlerted = true;
    }
  }

  private add(
    state: BudgetState,
    spend: Spend,
    request: { tenantId: string; requestId: string },
    now: number,
  ): void {
    state.spent += state.config.unit === "usd" ? spend.costScaled : BigInt(spend.tokens);
    if (!state.softAlerted && state.soft !== null && state.spent >= state.soft) {
      state.softAlerted = true;
      this.alert(state, "soft", state.soft, request, now);
    }
    if (!state.hardAlerted && state.hard !== null && state.spent >= state.hard) {
      state.hardAlerted = true;
      this.alert(state, "hard", state.hard, request, now);
    }
  }

  /**
   * Sets the spend already recorded in the current period (from ClickHouse at
   * start). A limit the seed already reached counts as alerted: the process
   * that saw the crossing published it, and a restart must not repeat it.
   */
  seed(
    period: BudgetPeriod,
    periodStart: number,
    rows: readonly { keyId: string; team: string; costScaled: bigint; tokens: bigint }[],
  ): void {
    for (const state of this.states) {
      if (state.config.period !== period) continue;
      // A seed for a later period (midnight passed since start) moves the budget on; an older one is ignored.
      if (periodStart > state.periodStart) rollOver(state, periodStart);
      if (state.periodStart !== periodStart) continue;
      let spent = 0n;
      for (const row of rows) {
        const matches =
          state.config.scope === "key"
            ? row.keyId === state.config.scope_id
            : row.team === state.config.scope_id;
        if (matches) spent += state.config.unit === "usd" ? row.costScaled : row.tokens;
      }
      state.spent = spent;
      state.softAlerted = state.soft !== null && spent >= state.soft;
      state.hardAlerted = state.hard !== null && spent >= state.hard;
    }
  }

  private alert(
    state: BudgetState,
    level: "soft" | "hard",
    threshold: bigint,
    request: { tenantId: string; requestId: string },
    now: number,
  ): void {
    this.sink.publish({
      event_id: newEventId(),
      event_type: "budget_alerted",
      schema_version: 1,
      occurred_at: eventTime(new Date(now)),
      tenant_id: request.tenantId,
      request_id: request.requestId,
      budget_id: state.config.id,
      scope: state.config.scope,
      scope_id: state.config.scope_id,
      unit: state.config.unit,
      period: state.config.period,
      period_start: eventTime(new Date(state.periodStart)),
      threshold: formatAmount(state, threshold),
      spent: formatAmount(state, state.spent),
      level,
    });
  }
}

/** A new period starts from zero, with its alerts not yet sent. */
function rollOver(state: BudgetState, now: number): void {
  if (now < state.periodEnd && now >= state.periodStart) return;
  const { start, end } = periodBounds(state.config.period, now);
  state.periodStart = start;
  state.periodEnd = end;
  state.spent = 0n;
  state.softAlerted = false;
  state.hardAlerted = false;
}

function amountOf(config: BudgetConfig, amount: string | undefined): bigint | null {
  if (amount === undefined) return null;
  return config.unit === "usd" ? parseDecimal(amount) : BigInt(amount);
}

function formatAmount(state: BudgetState, amount: bigint): string {
  return state.config.unit === "usd" ? formatDecimal(amount) : amount.toString();
}

function exceeded(state: BudgetState, now: number): GatewayError {
  const { config } = state;
  const limit = formatAmount(state, state.hard ?? 0n);
  const unit = config.unit === "usd" ? "USD" : "tokens";
  const resetsAt = new Date(state.periodEnd).toISOString();
  return new GatewayError(
    "budget_exceeded",
    `Budget "${config.id}" of ${config.scope} "${config.scope_id}" has reached its hard limit of ` +
      `${limit} ${unit} for the ${config.period} starting ${new Date(state.periodStart).toISOString()}. ` +
      `It resets at ${resetsAt}.`,
    { retryAfterSeconds: Math.max(1, Math.ceil((state.periodEnd - now) / 1000)) },
  );
}
