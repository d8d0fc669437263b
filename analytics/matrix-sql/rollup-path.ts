// The matrix from the rollups (quantile_method=t-digest, the default).
import type { TenantScope } from "../access.ts";
import {
  DIMENSIONS,
  filterClause,
  type GroupKey,
  groupSql,
  type MatrixParameters,
  TIME_BUCKETS,
} from "../matrix-query.ts";
import { type BoundQuery, bound, sql } from "./bound.ts";
import { rawEventsSql, USAGE_STATES } from "./usage-states.ts";
import { rangesSql, splitWindow } from "./window.ts";

/** What usage_*_by_tenant can group and filter by. */
const TENANT_VENDOR_MODEL_KEYS: readonly GroupKey[] = [
  "tenant",
  "vendor",
  "model",
  ...TIME_BUCKETS,
];

/**
 * Which pair of rollups answers a matrix: the fewer rows (and t-digests) to
 * merge, the faster. An admin's matrix across all tenants reads the ones kept
 * without tenant_id (0007, rebuilt with team by 0009); a matrix by tenant,
 * vendor and model alone the per-tenant ones without task and team (0012);
 * any other the full per-tenant ones. `dimensions` selects the usual five
 * columns from each, '' for those it does not keep.
 */
export function rollupFor(parameters: MatrixParameters, scope: TenantScope) {
  const allTenants =
    scope.tenants === "all" && !parameters.filters.tenant && !parameters.groupBy.includes("tenant");
  if (allTenants) {
    return {
      daily: "switchboard.usage_daily_all_tenants",
      hourly: "switchboard.usage_hourly_all_tenants",
      dimensions: "'' AS tenant_id, vendor, model, task, team",
    };
  }
  const used = [
    ...parameters.groupBy,
    ...DIMENSIONS.filter((dimension) => parameters.filters[dimension]),
  ];
  if (used.every((key) => TENANT_VENDOR_MODEL_KEYS.includes(key))) {
    return {
      daily: "switchboard.usage_daily_by_tenant",
      hourly: "switchboard.usage_hourly_by_tenant",
      dimensions: "tenant_id, vendor, model, '' AS task, '' AS team",
    };
  }
  return {
    daily: "switchboard.usage_daily",
    hourly: "switchboard.usage_hourly",
    dimensions: "tenant_id, vendor, model, task, team",
  };
}

/**
 * The matrix from the rollups: whole days from the daily rollup, whole hours
 * from the hourly one, and for the partial hours at the window's edges the
 * same aggregate states computed from the raw events; all merged with -Merge.
 * Counts and money are exact; quantiles are merged t-digests. The rollups
 * read are the smallest that hold the matrix's keys (rollupFor). Not for
 * key or tag (readsRawOnly).
 */
export function rollupMatrixQuery(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  const filters = filterClause(parameters.filters, scope, "rollup");
  const tiers = splitWindow(parameters.from, parameters.to, !parameters.groupBy.includes("hour"));
  const days = bound("day >= {days_from:DateTime('UTC')} AND day < {days_to:DateTime('UTC')}", {
    days_from: tiers.days[0],
    days_to: tiers.days[1],
  });
  const hours = rangesSql("hour", "DateTime('UTC')", "hours", tiers.hours);
  const rawWindow = rangesSql("occurred_at", "DateTime64(3, 'UTC')", "raw", tiers.raw);
  const rollup = rollupFor(parameters, scope);
  const states = USAGE_STATES.filter(
    (state) => !state.neededFor || state.neededFor(parameters.metrics),
  );
  // A quantile not asked for is an empty list: its row figure is then never read.
  const skipped = USAGE_STATES.filter((state) => !states.includes(state)).map(
    (state) => `CAST([] AS Array(Float64)) AS ${state.column}`,
  );
  const stateColumns = states.map((state) => state.column).join(", ");
  const group = groupSql(parameters.groupBy);
  const rawEvents = rawEventsSql(rawWindow, parameters.filters, scope, false);
  return sql`
    SELECT ${group.select},
      ${[...states.map((state) => `${state.merge} AS ${state.column}`), ...skipped].join(",\n      ")}
    FROM (
      SELECT day AS hour, ${rollup.dimensions}, ${stateColumns}
      FROM ${rollup.daily}
      WHERE ${days}${filters}
      UNION ALL
      SELECT hour, ${rollup.dimensions}, ${stateColumns}
      FROM ${rollup.hourly}
      WHERE ${hours}${filters}
      UNION ALL
      SELECT hour, tenant_id, vendor, model, task, team,
        ${states.map((state) => `${state.fromRaw} AS ${state.column}`).join(",\n        ")}
      FROM (${rawEvents})
      GROUP BY hour, tenant_id, vendor, model, task, team
    )
    GROUP BY ${group.keys}
    ORDER BY ${group.keys}`;
}
