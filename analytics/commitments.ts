// Committed spend against the ledger: for each contract with a commitment
// (config gateway.contracts[].commitment), what was committed, what the
// matching requests have cost so far in the term (their contracted cost_usd,
// summed as Decimal(38, 18) in ClickHouse), and where the trailing 7- and
// 28-day run rates take it by the term's end. Money is exact: scaled BigInts
// (events/money.ts), never floats.
import { z } from "zod";
import type { ClickHouseClient } from "../clickhouse/client.ts";
import { formatDecimal, parseDecimal } from "../events/money.ts";
import type { TenantScope } from "./access.ts";
import { dimensionValue, isoDateTime, listParameter } from "./parameters.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
export const TRAILING_DAYS = [7, 28] as const;

/** A commitment as the analytics API reads it: one per contract that has one. */
export interface CommitmentTerms {
  contract_id: string;
  vendor: string;
  amount: string;
  currency: "USD";
  term_start: string;
  term_end: string;
  models: "all" | string[];
}

/** The commitments among the gateway's contracts (structurally: analytics does not import the gateway). */
export function commitmentsOf(
  contracts: readonly {
    id: string;
    vendor: string;
    commitment?: Omit<CommitmentTerms, "contract_id" | "vendor" | "currency"> & {
      currency: string;
    };
  }[],
): CommitmentTerms[] {
  return contracts.flatMap((contract) =>
    contract.commitment
      ? [
          {
            ...contract.commitment,
            currency: "USD" as const,
            contract_id: contract.id,
            vendor: contract.vendor,
          },
        ]
      : [],
  );
}

export const commitmentParameterFields = {
  as_of: isoDateTime
    .optional()
    .describe("measure as if now were this time (default: now); consumption counts before it"),
  vendor: listParameter(dimensionValue).optional().describe("only these vendors' commitments"),
  tenant: listParameter(dimensionValue)
    .optional()
    .describe("count only these tenants' requests (within the token's tenants)"),
};
export const commitmentParameters = z.object(commitmentParameterFields).strict();
export type CommitmentParameters = z.output<typeof commitmentParameters>;

export interface CommitmentForecast {
  trailing_days: number;
  /** The run rate's window: the trailing days, cut at the term's start. */
  window_from: string;
  window_to: string;
  window_spend_usd: string;
  daily_run_rate_usd: string;
  projected_usd: string;
  projected_shortfall_usd: string;
  projected_overage_usd: string;
  /** UTC date the commitment is met at this rate; null when not within the term. */
  projected_met_on: string | null;
}

export interface CommitmentStatus {
  contract_id: string;
  vendor: string;
  models: "all" | string[];
  currency: "USD";
  term_start: string;
  term_end: string;
  committed_usd: string;
  consumed_usd: string;
  remaining_usd: string;
  /** Whole UTC days from as_of (or the term's start, if later) to the term's end, a part day counting as one. */
  days_left: number;
  /** UTC date the consumed spend reached the commitment; null while it has not. */
  met_on: string | null;
  /** Null before the term starts (no spend in the term to run from). */
  forecasts: CommitmentForecast[] | null;
}

interface DayRow {
  day: string;
  spend: string;
  trailing_7: string;
  trailing_28: string;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Numerator / denominator of non-negative BigInts, rounded up. */
function divideUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

async function readDays(
  clickhouse: ClickHouseClient,
  terms: CommitmentTerms,
  from: number,
  to: number,
  scope: TenantScope,
): Promise<DayRow[]> {
  const params: Record<string, unknown> = {
    vendor: terms.vendor,
    from: new Date(from),
    to: new Date(to),
    trailing_7: new Date(to - 7 * DAY_MS),
    trailing_28: new Date(to - 28 * DAY_MS),
  };
  let where = "";
  if (terms.models !== "all") {
    where += " AND model IN {models:Array(String)}";
    params.models = terms.models;
  }
  if (scope.tenants !== "all") {
    where += " AND tenant_id IN {scope_tenants:Array(String)}";
    params.scope_tenants = scope.tenants;
  }
  // Sums stay Decimal(38, 18) in ClickHouse; per day so the day the
  // commitment was reached can be read off the running total.
  const result = await clickhouse.query({
    query: `SELECT toString(toDate(occurred_at, 'UTC')) AS day,
                   toString(sum(cost_usd)) AS spend,
                   toString(sumIf(cost_usd, occurred_at >= {trailing_7:DateTime64(3, 'UTC')})) AS trailing_7,
                   toString(sumIf(cost_usd, occurred_at >= {trailing_28:DateTime64(3, 'UTC')})) AS trailing_28
            FROM switchboard.request_completed FINAL
            WHERE vendor = {vendor:String}
              AND occurred_at >= {from:DateTime64(3, 'UTC')}
              AND occurred_at < {to:DateTime64(3, 'UTC')}${where}
            GROUP BY day
            ORDER BY day`,
    query_params: params,
    format: "JSONEachRow",
  });
  return result.json<DayRow>();
}

/** One commitment measured at `asOf` (ms). */
export async function readCommitment(
  clickhouse: ClickHouseClient,
  terms: CommitmentTerms,
  asOf: number,
  scope: TenantScope,
): Promise<CommitmentStatus> {
  const start = Date.parse(terms.term_start);
  const end = Date.parse(terms.term_end);
  const committed = parseDecimal(terms.amount);
  // Spend counts in [term_start, measuredTo); after the term, the whole term.
  const measuredTo = Math.min(Math.max(asOf, start), end);
  const days =
    measuredTo > start ? await readDays(clickhouse, terms, start, measuredTo, scope) : [];

  let consumed = 0n;
  let metOn: string | null = null;
  const trailing = { 7: 0n, 28: 0n };
  for (const row of days) {
    consumed += parseDecimal(row.spend);
    trailing[7] += parseDecimal(row.trailing_7);
    trailing[28] += parseDecimal(row.trailing_28);
    if (metOn === null && consumed >= committed) metOn = row.day;
  }
  const remainingMs = end - measuredTo;
  const forecasts =
    measuredTo > start
      ? TRAILING_DAYS.map((trailingDays) =>
          forecast(trailingDays, trailing[trailingDays], {
            start,
            end,
            measuredTo,
            committed,
            consumed,
          }),
        )
      : null;
  const remaining = committed > consumed ? committed - consumed : 0n;
  return {
    contract_id: terms.contract_id,
    vendor: terms.vendor,
    models: terms.models,
    currency: terms.currency,
    term_start: new Date(start).toISOString(),
    term_end: new Date(end).toISOString(),
    committed_usd: formatDecimal(committed),
    consumed_usd: formatDecimal(consumed),
    remaining_usd: formatDecimal(remaining),
    days_left: Math.ceil(remainingMs / DAY_MS),
    met_on: metOn,
    forecasts,
  };
}

/**
 * The run rate is the window's spend over the window's length (the trailing
 * days, or less when the term began within them), carried to the term's end.
 * Rounding: every division truncates toward zero at 18 decimal places (money's
 * scale), once, from exact sums — the projection is window_spend × remaining
 * time ÷ window length, not the rounded daily rate × days, so it is at most
 * 0.000000000000000001 below the exact figure. The met date rounds the other
 * way: the time needed is rounded up to the millisecond, so a date is never
 * earlier than the rate supports.
 */
function forecast(
  trailingDays: number,
  windowSpend: bigint,
  term: { start: number; end: number; measuredTo: number; committed: bigint; consumed: bigint },
): CommitmentForecast {
  const windowFrom = Math.max(term.start, term.measuredTo - trailingDays * DAY_MS);
  const windowMs = BigInt(term.measuredTo - windowFrom);
  const remainingMs = BigInt(term.end - term.measuredTo);
  const projected = term.consumed + (windowSpend * remainingMs) / windowMs;
  const need = term.committed - term.consumed;
  // Already met (need ≤ 0): met_on says when, and there is nothing to project.
  let projectedMetOn: string | null = null;
  if (need > 0n && windowSpend > 0n) {
    const metAt = term.measuredTo + Number(divideUp(need * windowMs, windowSpend));
    // The spend that reaches the commitment happens just before metAt.
    if (metAt <= term.end) projectedMetOn = isoDate(metAt - 1);
  }
  return {
    trailing_days: trailingDays,
    window_from: new Date(windowFrom).toISOString(),
    window_to: new Date(term.measuredTo).toISOString(),
    window_spend_usd: formatDecimal(windowSpend),
    daily_run_rate_usd: formatDecimal((windowSpend * BigInt(DAY_MS)) / windowMs),
    projected_usd: formatDecimal(projected),
    projected_shortfall_usd: formatDecimal(
      term.committed > projected ? term.committed - projected : 0n,
    ),
    projected_overage_usd: formatDecimal(
      projected > term.committed ? projected - term.committed : 0n,
    ),
    projected_met_on: projectedMetOn,
  };
}

/** Every configured commitment (of the asked vendors) measured at as_of, within the caller's tenants. */
export async function readCommitments(
  clickhouse: ClickHouseClient,
  commitments: readonly CommitmentTerms[],
  parameters: CommitmentParameters,
  scope: TenantScope,
  now: number = Date.now(),
): Promise<{ as_of: string; commitments: CommitmentStatus[] }> {
  const asOf = parameters.as_of?.getTime() ?? now;
  const chosen = commitments.filter(
    (terms) => !parameters.vendor || parameters.vendor.includes(terms.vendor),
  );
  return {
    as_of: new Date(asOf).toISOString(),
    commitments: await Promise.all(
      chosen.map((terms) => readCommitment(clickhouse, terms, asOf, scope)),
    ),
  };
}
