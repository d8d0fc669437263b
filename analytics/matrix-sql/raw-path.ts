// The matrix straight from the raw events, and the distinct totals its
// shares are taken of when a request can be in several rows.
import type { TenantScope } from "../access.ts";
import { groupSql, type MatrixParameters } from "../matrix-query.ts";
import { type BoundQuery, sql } from "./bound.ts";
import { rawEventsSql, USAGE_STATES } from "./usage-states.ts";
import { eventWindowSql } from "./window.ts";

/**
 * The matrix straight from the raw events read with FINAL, with exact
 * quantiles: for quantile_method=exact, and for a matrix grouped or filtered
 * by key or tag, which the rollups do not hold.
 */
export function rawMatrixQuery(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  const rawEvents = rawEventsSql(
    eventWindowSql(parameters.from, parameters.to),
    parameters.filters,
    scope,
    parameters.groupBy.includes("tag"),
  );
  const group = groupSql(parameters.groupBy);
  return sql`
    SELECT ${group.select},
      ${USAGE_STATES.map((state) => `${state.exact} AS ${state.column}`).join(",\n      ")}
    FROM (${rawEvents})
    GROUP BY ${group.keys}
    ORDER BY ${group.keys}`;
}

/**
 * The window's distinct requests and spend under the same filters, not split
 * by tag: what shares are taken of when a request can be in several tag groups.
 */
export function matrixTotalsQuery(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  const rawEvents = rawEventsSql(
    eventWindowSql(parameters.from, parameters.to),
    parameters.filters,
    scope,
    false,
  );
  return sql`
    SELECT countIf(kind = 'request') AS requests, toString(sumIf(cost_usd, kind = 'request')) AS cost_usd
    FROM (${rawEvents})`;
}
