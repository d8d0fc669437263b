// What the usage matrix aggregates, once for every path: each figure as the
// rollups merge it, as the raw events give its state, and as the raw events
// give it exactly; and the raw events themselves as one relation.
import type { TenantScope } from "../access.ts";
import type { DimensionFilters, Metric } from "../matrix-query.ts";
import { filterClause } from "../matrix-query.ts";
import { type BoundQuery, sql } from "./bound.ts";

/** A request with no tag is under tag '', so grouping by tag loses no request. */
export const TAG_EXPRESSION = "arrayJoin(if(empty(tags), [''], tags))";

/**
 * The request columns the matrix sums, in request_completed and in every
 * usage rollup (a `sumState` column of the same name), with what a failed
 * attempt adds to each: nothing. A new summed figure is one entry here, its
 * columns (a migration) and its metric.
 */
export const SUMMED_COLUMNS: readonly { column: string; zero: string; money?: true }[] = [
  { column: "input_tokens", zero: "toUInt64(0)" },
  { column: "cached_input_tokens", zero: "toUInt64(0)" },
  { column: "cache_write_input_tokens", zero: "toUInt64(0)" },
  { column: "output_tokens", zero: "toUInt64(0)" },
  { column: "reasoning_tokens", zero: "toUInt64(0)" },
  { column: "cost_usd", zero: "toDecimal128(0, 18)", money: true },
  { column: "list_cost_usd", zero: "toDecimal128(0, 18)", money: true },
];

/**
 * Requests and failed attempts as one relation, tagged by `kind`; failed
 * attempts count where they failed, under their caller's team, key and tags
 * ('' and none before attempt_failed v3), and add no tokens, cost or
 * latency; their service tier is unknown (''). With `explodeTags`, a
 * request is one row per tag, in a `tag` column. `window` selects the events
 * by `occurred_at`.
 */
export function rawEventsSql(
  window: BoundQuery,
  filters: DimensionFilters,
  scope: TenantScope,
  explodeTags: boolean,
): BoundQuery {
  const requestFilters = filterClause(
    filters,
    scope,
    explodeTags ? "exploded-requests" : "requests",
  );
  const attemptFilters = filterClause(
    filters,
    scope,
    explodeTags ? "exploded-requests" : "attempts",
  );
  const tag = explodeTags ? ` ${TAG_EXPRESSION} AS tag,` : "";
  const summed = SUMMED_COLUMNS.map(({ column }) => column).join(", ");
  const nothing = SUMMED_COLUMNS.map(({ column, zero }) => `${zero} AS ${column}`).join(", ");
  return sql`
      SELECT 'request' AS kind, toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task,
             team, key_id, service_tier,${tag}
             status, attempts, price_known, ${summed},
             latency_ms, ttft_ms
      FROM switchboard.request_completed FINAL
      WHERE ${window}${requestFilters}
      UNION ALL
      SELECT 'attempt_failed' AS kind, toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task,
             team, key_id, '' AS service_tier,${tag}
             'failed' AS status, toUInt16(1) AS attempts, true AS price_known, ${nothing},
             latency_ms, CAST(NULL AS Nullable(UInt32))
      FROM switchboard.attempt_failed FINAL
      WHERE ${window}${attemptFilters}`;
}

/**
 * One aggregate of the rollups: its merge for the answer and the state the
 * raw events give for partial hours. Quantile states are costly to merge, so
 * a query reads them only when a quantile metric was asked for.
 */
export interface UsageState {
  column: string;
  merge: string;
  fromRaw: string;
  /** The same figure straight from the raw events, for the exact matrix. */
  exact: string;
  neededFor?: (metrics: Metric[]) => boolean;
}

export const USAGE_STATES: readonly UsageState[] = [
  {
    column: "requests",
    merge: "countMerge(requests)",
    fromRaw: "countStateIf(kind = 'request')",
    exact: "countIf(kind = 'request')",
  },
  {
    column: "succeeded",
    merge: "countMerge(succeeded)",
    fromRaw: "countStateIf(kind = 'request' AND status = 'success')",
    exact: "countIf(kind = 'request' AND status = 'success')",
  },
  {
    column: "failed_over",
    merge: "countMerge(failed_over)",
    fromRaw: "countStateIf(kind = 'request' AND attempts > 1)",
    exact: "countIf(kind = 'request' AND attempts > 1)",
  },
  {
    column: "failed_attempts",
    merge: "countMerge(failed_attempts)",
    fromRaw: "countStateIf(kind = 'attempt_failed')",
    exact: "countIf(kind = 'attempt_failed')",
  },
  {
    column: "unpriced_requests",
    merge: "countMerge(unpriced_requests)",
    fromRaw: "countStateIf(kind = 'request' AND NOT price_known)",
    exact: "countIf(kind = 'request' AND NOT price_known)",
  },
  // Money as text, so no JSON number ever holds it.
  ...SUMMED_COLUMNS.map(({ column, money }) => ({
    column,
    merge: money ? `toString(sumMerge(${column}))` : `sumMerge(${column})`,
    fromRaw: `sumStateIf(${column}, kind = 'request')`,
    exact: money
      ? `toString(sumIf(${column}, kind = 'request'))`
      : `sumIf(${column}, kind = 'request')`,
  })),
  {
    column: "latency_ms_quantiles",
    merge: "quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms_quantiles)",
    fromRaw: "quantilesTDigestStateIf(0.5, 0.95, 0.99)(latency_ms, kind = 'request')",
    exact: "quantilesExactIf(0.5, 0.95, 0.99)(latency_ms, kind = 'request')",
    neededFor: (metrics) => metrics.some((metric) => metric.startsWith("latency_ms_")),
  },
  {
    column: "ttft_observed",
    merge: "countMerge(ttft_observed)",
    fromRaw: "countStateIf(kind = 'request' AND ttft_ms IS NOT NULL)",
    exact: "countIf(kind = 'request' AND ttft_ms IS NOT NULL)",
  },
  {
    column: "ttft_ms_quantiles",
    merge: "quantilesTDigestMerge(0.5, 0.95, 0.99)(ttft_ms_quantiles)",
    fromRaw:
      "quantilesTDigestStateIf(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms), kind = 'request' AND ttft_ms IS NOT NULL)",
    exact:
      "quantilesExactIf(0.5, 0.95, 0.99)(assumeNotNull(ttft_ms), kind = 'request' AND ttft_ms IS NOT NULL)",
    neededFor: (metrics) => metrics.some((metric) => metric.startsWith("ttft_ms_")),
  },
];
