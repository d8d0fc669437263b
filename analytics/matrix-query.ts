// The matrix's parameters and its SQL. Every identifier in the SQL comes from
// the fixed maps below, never from the caller's text; values are bound as
// query parameters.
import { z } from "zod";
import { QUALITY_SOURCES } from "../events/schemas.ts";
import type { TenantScope } from "./access.ts";
import { dimensionValue, listParameter, resolveWindow, windowFields } from "./parameters.ts";

/**
 * The dimensions a matrix may be grouped and filtered by, and the column each
 * one reads. `key` is request_completed's key_id; `tag` is one element of its
 * `tags` array (the raw events are read with arrayJoin, so a request with two
 * tags is in two groups; an untagged request is under tag "").
 */
export const DIMENSION_COLUMNS = {
  vendor: "vendor",
  model: "model",
  task: "task",
  tenant: "tenant_id",
  team: "team",
  key: "key_id",
  tag: "tag",
} as const;
export type Dimension = keyof typeof DIMENSION_COLUMNS;
export const DIMENSIONS = Object.keys(DIMENSION_COLUMNS) as Dimension[];

/**
 * Dimensions the rollups do not hold (0009_rollups_by_team.sql says why): a
 * matrix grouped or filtered by one is computed from the raw events.
 */
export const RAW_ONLY_DIMENSIONS: readonly Dimension[] = ["key", "tag"];

/** Time buckets, each computed from the start of the hour (`hour`) in UTC; weeks start on Monday. */
export const TIME_BUCKET_EXPRESSIONS = {
  hour: "hour",
  day: "toStartOfDay(hour)",
  week: "toDateTime(toMonday(hour), 'UTC')",
  month: "toDateTime(toStartOfMonth(hour), 'UTC')",
} as const;
export type TimeBucket = keyof typeof TIME_BUCKET_EXPRESSIONS;
export const TIME_BUCKETS = Object.keys(TIME_BUCKET_EXPRESSIONS) as TimeBucket[];

export type GroupKey = Dimension | TimeBucket;

/** What a row can carry; `metrics` picks among them. */
export const METRICS = [
  "requests",
  "succeeded",
  "failed_attempts",
  "share_of_requests",
  "share_of_spend",
  "cost_usd",
  "list_spend_usd",
  "savings_vs_list_usd",
  "unpriced_requests",
  "cost_per_request_usd",
  "cost_per_success_usd",
  "success_rate",
  "failover_rate",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_input_tokens",
  "output_tokens",
  "reasoning_tokens",
  "latency_ms_p50",
  "latency_ms_p95",
  "latency_ms_p99",
  "ttft_ms_p50",
  "ttft_ms_p95",
  "ttft_ms_p99",
  "quality",
] as const;
export type Metric = (typeof METRICS)[number];

/** The skeleton's row, kept as the default so existing clients see what they always saw. */
export const DEFAULT_METRICS: Metric[] = [
  "requests",
  "succeeded",
  "failed_attempts",
  "input_tokens",
  "output_tokens",
  "cost_usd",
  "cost_per_success_usd",
  "latency_ms_p50",
  "latency_ms_p95",
];

export const QUANTILE_METHODS = ["t-digest", "exact"] as const;
export type QuantileMethod = (typeof QUANTILE_METHODS)[number];

const groupKey = z.enum([...DIMENSIONS, ...TIME_BUCKETS] as [GroupKey, ...GroupKey[]]);

/** The query parameters, field by field; the OpenAPI document and docs page read these too. */
export const matrixParameterFields = {
  ...windowFields,
  group_by: listParameter(groupKey)
    .optional()
    .describe(
      'keys to group by, comma list or repeated: vendor, model, task, tenant, team, key, tag and at most one time bucket (hour, day, week, month; UTC, weeks from Monday). Default vendor,task. A failed attempt counts under the team, key and tags of its caller ("" for those stored before attempt_failed v3). By tag, a request with two tags counts under each, so requests and spend summed over tags exceed the totals and the shares (taken of the distinct totals) sum to more than 1; untagged requests are under tag "". Key and tag are read from the raw events, with exact quantiles',
    ),
  vendor: listParameter(dimensionValue).optional().describe("only these vendors"),
  model: listParameter(dimensionValue).optional().describe("only these models"),
  task: listParameter(dimensionValue).optional().describe("only these task classes"),
  tenant: listParameter(dimensionValue)
    .optional()
    .describe("only these tenants (within the token's tenants)"),
  team: listParameter(dimensionValue).optional().describe("only these teams"),
  key: listParameter(dimensionValue).optional().describe("only these gateway API key ids"),
  tag: listParameter(dimensionValue)
    .optional()
    .describe(
      "only requests carrying at least one of these tags, each counted once; grouped by tag, only these tags' groups",
    ),
  metrics: listParameter(z.enum([...METRICS, "all"]))
    .optional()
    .describe(`metrics per row, or \`all\`. Default ${DEFAULT_METRICS.join(",")}`),
  quantile_method: z
    .enum(QUANTILE_METHODS)
    .default("t-digest")
    .describe(
      "t-digest: quantiles from the hourly rollups, approximate (the answer says so); exact: every quantile from the raw events, slower",
    ),
  quality_source: listParameter(z.enum(QUALITY_SOURCES))
    .optional()
    .describe("quality scores only from these sources: human, eval, heuristic"),
};

export const matrixParameters = z
  .object(matrixParameterFields)
  .strict()
  .transform((parameters, context) => {
    const groupBy = parameters.group_by ?? ["vendor", "task"];
    if (new Set(groupBy).size !== groupBy.length) {
      context.addIssue({ code: "custom", path: ["group_by"], message: "a key appears twice" });
    }
    if (groupBy.filter((key) => TIME_BUCKETS.includes(key as TimeBucket)).length > 1) {
      context.addIssue({
        code: "custom",
        path: ["group_by"],
        message: "at most one time bucket (hour, day, week, month)",
      });
    }
    const requested = parameters.metrics ?? DEFAULT_METRICS;
    const metrics: Metric[] = requested.includes("all") ? [...METRICS] : (requested as Metric[]);
    return {
      ...resolveWindow(parameters),
      groupBy,
      filters: {
        vendor: parameters.vendor,
        model: parameters.model,
        task: parameters.task,
        tenant: parameters.tenant,
        team: parameters.team,
        key: parameters.key,
        tag: parameters.tag,
      } as DimensionFilters,
      metrics: [...new Set(metrics)],
      quantileMethod: parameters.quantile_method,
      qualitySources: parameters.quality_source,
    };
  });

/** Filter values per dimension; a dimension not given is not filtered. */
export type DimensionFilters = Partial<Record<Dimension, string[]>>;
export type MatrixParameters = z.output<typeof matrixParameters>;

/** Whether the matrix needs a dimension only the raw events hold. */
export function readsRawOnly(parameters: Pick<MatrixParameters, "groupBy" | "filters">): boolean {
  return RAW_ONLY_DIMENSIONS.some(
    (dimension) =>
      parameters.groupBy.includes(dimension) || parameters.filters[dimension] !== undefined,
  );
}

export interface BoundQuery {
  sql: string;
  params: Record<string, unknown>;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

type Range = [Date, Date];

function ceilTo(date: Date, unitMs: number): Date {
  return new Date(Math.ceil(date.getTime() / unitMs) * unitMs);
}

function floorTo(date: Date, unitMs: number): Date {
  return new Date(Math.floor(date.getTime() / unitMs) * unitMs);
}

/**
 * Splits [from, to) by who can answer for each part: whole days the daily
 * rollup, whole hours at either side of them the hourly rollup, and the
 * partial hours at the window's edges only the raw events. Grouping by hour
 * skips the daily rollup. Each tier has a head and a tail range; empty ranges
 * are [to, to).
 */
export function splitWindow(from: Date, to: Date, useDays: boolean) {
  const empty: Range = [to, to];
  const firstHour = ceilTo(from, HOUR_MS);
  const lastHourEnd = floorTo(to, HOUR_MS);
  if (firstHour >= lastHourEnd) {
    return { days: empty, hours: [empty, empty], raw: [[from, to] as Range, empty] };
  }
  const raw: [Range, Range] = [
    [from, firstHour],
    [lastHourEnd, to],
  ];
  const firstDay = ceilTo(from, DAY_MS);
  const lastDayEnd = floorTo(to, DAY_MS);
  if (!useDays || firstDay >= lastDayEnd) {
    return { days: empty, hours: [[firstHour, lastHourEnd] as Range, empty], raw };
  }
  return {
    days: [firstDay, lastDayEnd] as Range,
    hours: [[firstHour, firstDay] as Range, [lastDayEnd, lastHourEnd] as Range],
    raw,
  };
}

/**
 * Where a filter reads its dimension: a raw event table, request_completed
 * or attempt_failed (its `tags` array, or the `tag` arrayJoin gives when
 * grouping by tag), or a rollup (team, never key or tag: those matrices read
 * the raw events).
 */
export type FilterSource = "requests" | "exploded-requests" | "attempts" | "rollup";

function dimensionFilterSql(dimension: Dimension, source: FilterSource): string {
  const values = `{filter_${dimension}:Array(String)}`;
  if (dimension === "tag" && (source === "requests" || source === "attempts")) {
    return `hasAny(if(empty(tags), [''], tags), ${values})`;
  }
  if (source === "rollup" && RAW_ONLY_DIMENSIONS.includes(dimension)) {
    throw new Error(`the rollups cannot be filtered by ${dimension}`);
  }
  return `${DIMENSION_COLUMNS[dimension]} IN ${values}`;
}

/** `AND column IN {…}` for each filter given and for the token's tenants. */
export function filterSql(
  filters: DimensionFilters,
  scope: TenantScope,
  params: Record<string, unknown>,
  source: FilterSource = "requests",
): string {
  const clauses: string[] = [];
  for (const dimension of DIMENSIONS) {
    const values = filters[dimension];
    if (values) {
      clauses.push(dimensionFilterSql(dimension, source));
      params[`filter_${dimension}`] = values;
    }
  }
  if (scope.tenants !== "all") {
    clauses.push("tenant_id IN {scope_tenants:Array(String)}");
    params.scope_tenants = scope.tenants;
  }
  return clauses.map((clause) => ` AND ${clause}`).join("");
}

/** The SELECT list and GROUP BY list for the requested keys, over a relation with `hour` and the dimension columns. */
export function groupSql(groupBy: GroupKey[]): { select: string; keys: string } {
  const select = groupBy.map((key) => {
    if (key in TIME_BUCKET_EXPRESSIONS) {
      return `${TIME_BUCKET_EXPRESSIONS[key as TimeBucket]} AS ${key}_bucket`;
    }
    return `${DIMENSION_COLUMNS[key as Dimension]} AS ${key}_key`;
  });
  const keys = groupBy
    .map((key) => (key in TIME_BUCKET_EXPRESSIONS ? `${key}_bucket` : `${key}_key`))
    .join(", ");
  return { select: select.join(", "), keys };
}

/** Where a group key's value is in a result record. */
export function groupColumn(key: GroupKey): string {
  return key in TIME_BUCKET_EXPRESSIONS ? `${key}_bucket` : `${key}_key`;
}

const EVENT_WINDOW =
  "occurred_at >= {window_from:DateTime64(3, 'UTC')} AND occurred_at < {window_to:DateTime64(3, 'UTC')}";

/** A request with no tag is under tag '', so grouping by tag loses no request. */
const TAG_EXPRESSION = "arrayJoin(if(empty(tags), [''], tags))";

/**
 * Requests and failed attempts as one relation, tagged by `kind`; failed
 * attempts count where they failed, under their caller's team, key and tags
 * ('' and none before attempt_failed v3), and add no tokens, cost or
 * latency. With `explodeTags`, a request is one row
 * per tag, in a `tag` column.
 */
function rawEventsSql(
  window: string,
  filters: DimensionFilters,
  scope: TenantScope,
  params: Record<string, unknown>,
  explodeTags: boolean,
): string {
  const requestFilters = filterSql(
    filters,
    scope,
    params,
    explodeTags ? "exploded-requests" : "requests",
  );
  const attemptFilters = filterSql(
    filters,
    scope,
    params,
    explodeTags ? "exploded-requests" : "attempts",
  );
  return `
      SELECT 'request' AS kind, toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task,
             team, key_id,${explodeTags ? ` ${TAG_EXPRESSION} AS tag,` : ""}
             status, attempts, price_known, input_tokens, cached_input_tokens,
             cache_write_input_tokens, output_tokens, reasoning_tokens, cost_usd, list_cost_usd,
             latency_ms, ttft_ms
      FROM switchboard.request_completed FINAL
      WHERE ${window}${requestFilters}
      UNION ALL
      SELECT 'attempt_failed' AS kind, toStartOfHour(occurred_at) AS hour, tenant_id, vendor, model, task,
             team, key_id,${explodeTags ? ` ${TAG_EXPRESSION} AS tag,` : ""}
             'failed' AS status, toUInt16(1) AS attempts, true AS price_known, toUInt64(0), toUInt64(0),
             toUInt64(0), toUInt64(0), toUInt64(0), toDecimal128(0, 18), toDecimal128(0, 18),
             latency_ms, CAST(NULL AS Nullable(UInt32))
      FROM switchboard.attempt_failed FINAL
      WHERE ${window}${attemptFilters}`;
}

/**
 * One aggregate of the rollups: its merge for the answer and the state the
 * raw events give for partial hours. Quantile states are costly to merge, so
 * a query reads them only when a quantile metric was asked for.
 */
interface RollupState {
  column: string;
  merge: string;
  fromRaw: string;
  /** The same figure straight from the raw events, for the exact matrix. */
  exact: string;
  neededFor?: (metrics: Metric[]) => boolean;
}

const ROLLUP_STATES: RollupState[] = [
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
  ...[
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_tokens",
  ].map((column) => ({
    column,
    merge: `sumMerge(${column})`,
    fromRaw: `sumStateIf(${column}, kind = 'request')`,
    exact: `sumIf(${column}, kind = 'request')`,
  })),
  // Money as text, so no JSON number ever holds it.
  ...["cost_usd", "list_cost_usd"].map((column) => ({
    column,
    merge: `toString(sumMerge(${column}))`,
    fromRaw: `sumStateIf(${column}, kind = 'request')`,
    exact: `toString(sumIf(${column}, kind = 'request'))`,
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

function rangeSql(column: string, type: string, name: string): string {
  return (
    `((${column} >= {${name}_head_from:${type}} AND ${column} < {${name}_head_to:${type}})` +
    ` OR (${column} >= {${name}_tail_from:${type}} AND ${column} < {${name}_tail_to:${type}}))`
  );
}

function bindRanges(params: Record<string, unknown>, name: string, [head, tail]: Range[]) {
  Object.assign(params, {
    [`${name}_head_from`]: head?.[0],
    [`${name}_head_to`]: head?.[1],
    [`${name}_tail_from`]: tail?.[0],
    [`${name}_tail_to`]: tail?.[1],
  });
}

/**
 * Which pair of rollups answers a matrix: the fewer rows (and t-digests) to
 * merge, the faster. An admin's matrix across all tenants reads the ones kept
 * without tenant_id (0007, rebuilt with team by 0009); a matrix by tenant,
 * vendor and model alone the per-tenant ones without task and team (0012);
 * any other the full per-tenant ones. `dimensions` selects the usual five
 * columns from each, '' for those it does not keep.
 */
function rollupFor(parameters: MatrixParameters, scope: TenantScope) {
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

/** What usage_*_by_tenant can group and filter by. */
const TENANT_VENDOR_MODEL_KEYS: readonly GroupKey[] = [
  "tenant",
  "vendor",
  "model",
  ...TIME_BUCKETS,
];

/**
 * The matrix from the rollups: whole days from the daily rollup, whole hours
 * from the hourly one, and for the partial hours at the window's edges the
 * same aggregate states computed from the raw events; all merged with -Merge.
 * Counts and money are exact; quantiles are merged t-digests. The rollups
 * read are the smallest that hold the matrix's keys (rollupFor). Not for
 * key or tag (readsRawOnly).
 */
export function rollupMatrixSql(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  const params: Record<string, unknown> = {};
  const filters = filterSql(parameters.filters, scope, params, "rollup");
  const tiers = splitWindow(parameters.from, parameters.to, !parameters.groupBy.includes("hour"));
  Object.assign(params, { days_from: tiers.days[0], days_to: tiers.days[1] });
  bindRanges(params, "hours", tiers.hours);
  bindRanges(params, "raw", tiers.raw);
  const rollup = rollupFor(parameters, scope);
  const states = ROLLUP_STATES.filter(
    (state) => !state.neededFor || state.neededFor(parameters.metrics),
  );
  // A quantile not asked for is an empty list: its row figure is then never read.
  const skipped = ROLLUP_STATES.filter((state) => !states.includes(state)).map(
    (state) => `CAST([] AS Array(Float64)) AS ${state.column}`,
  );
  const stateColumns = states.map((state) => state.column).join(", ");
  const group = groupSql(parameters.groupBy);
  const rawEvents = rawEventsSql(
    rangeSql("occurred_at", "DateTime64(3, 'UTC')", "raw"),
    parameters.filters,
    scope,
    params,
    false,
  );
  const sql = `
    SELECT ${group.select},
      ${[...states.map((state) => `${state.merge} AS ${state.column}`), ...skipped].join(",\n      ")}
    FROM (
      SELECT day AS hour, ${rollup.dimensions}, ${stateColumns}
      FROM ${rollup.daily}
      WHERE day >= {days_from:DateTime('UTC')} AND day < {days_to:DateTime('UTC')}${filters}
      UNION ALL
      SELECT hour, ${rollup.dimensions}, ${stateColumns}
      FROM ${rollup.hourly}
      WHERE ${rangeSql("hour", "DateTime('UTC')", "hours")}${filters}
      UNION ALL
      SELECT hour, tenant_id, vendor, model, task, team,
        ${states.map((state) => `${state.fromRaw} AS ${state.column}`).join(",\n        ")}
      FROM (${rawEvents})
      GROUP BY hour, tenant_id, vendor, model, task, team
    )
    GROUP BY ${group.keys}
    ORDER BY ${group.keys}`;
  return { sql, params };
}

/**
 * The matrix straight from the raw events read with FINAL, with exact
 * quantiles: for quantile_method=exact, and for a matrix grouped or filtered
 * by key or tag, which the rollups do not hold.
 */
export function rawMatrixSql(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  const params: Record<string, unknown> = {
    window_from: parameters.from,
    window_to: parameters.to,
  };
  const rawEvents = rawEventsSql(
    EVENT_WINDOW,
    parameters.filters,
    scope,
    params,
    parameters.groupBy.includes("tag"),
  );
  const group = groupSql(parameters.groupBy);
  const sql = `
    SELECT ${group.select},
      ${ROLLUP_STATES.map((state) => `${state.exact} AS ${state.column}`).join(",\n      ")}
    FROM (${rawEvents})
    GROUP BY ${group.keys}
    ORDER BY ${group.keys}`;
  return { sql, params };
}

/**
 * The window's distinct requests and spend under the same filters, not split
 * by tag: what shares are taken of when a request can be in several tag groups.
 */
export function totalsSql(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  const params: Record<string, unknown> = {
    window_from: parameters.from,
    window_to: parameters.to,
  };
  const rawEvents = rawEventsSql(EVENT_WINDOW, parameters.filters, scope, params, false);
  const sql = `
    SELECT countIf(kind = 'request') AS requests, toString(sumIf(cost_usd, kind = 'request')) AS cost_usd
    FROM (${rawEvents})`;
  return { sql, params };
}

/**
 * A score may be stamped by another process than the gateway (an eval
 * runner), so a score given a little before its request's timestamp still
 * counts: scores are read from this long before the window's start.
 */
export const SCORE_CLOCK_SKEW_ALLOWANCE = "INTERVAL 1 HOUR";

/** The scores of the window's requests, by the time of the request scored. */
const SCORED_REQUEST_WINDOW =
  "request_occurred_at >= {window_from:DateTime64(3, 'UTC')} AND request_occurred_at < {window_to:DateTime64(3, 'UTC')}";

/** The kind of a score, as the quality rollup keys it: a scale 0 and a category '' where they do not apply. */
const SCORE_KIND_COLUMNS = `value.type AS type,
             if(type = 'number', assumeNotNull(value.minimum), 0) AS minimum,
             if(type = 'number', assumeNotNull(value.maximum), 0) AS maximum,
             if(type = 'category', assumeNotNull(value.category), '') AS category`;

/**
 * One raw score as a row of the sums quality_hourly keeps (n, n_true, x_sum,
 * x_sum_squares), so raw rows and rollup rows add up under one GROUP BY.
 */
const SCORE_SUMS = `toUInt64(1) AS n,
             toUInt64(ifNull(value.boolean, false)) AS n_true,
             if(type = 'number', assumeNotNull(value.number), 0) AS x_sum,
             if(type = 'number', pow(assumeNotNull(value.number), 2), 0) AS x_sum_squares`;

/** `AND …` for the score-side filters every quality source shares: tenants and sources. */
function scoreFilterSql(
  parameters: MatrixParameters,
  scope: TenantScope,
  params: Record<string, unknown>,
): string {
  const clauses: string[] = [];
  if (scope.tenants !== "all") {
    clauses.push("tenant_id IN {scope_tenants:Array(String)}");
    params.scope_tenants = scope.tenants;
  }
  if (parameters.filters.tenant) {
    clauses.push("tenant_id IN {filter_tenant:Array(String)}");
    params.filter_tenant = parameters.filters.tenant;
  }
  if (parameters.qualitySources) {
    clauses.push("source IN {quality_sources:Array(String)}");
    params.quality_sources = parameters.qualitySources;
  }
  return clauses.map((clause) => ` AND ${clause}`).join("");
}

/**
 * Whether the window may hold scores with no request on them (stored before
 * migration 0011 or upcast from v1), which only a join to the requests can
 * place: the quality matrix runs that join only when this finds one.
 */
export function legacyScoresSql(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  const params: Record<string, unknown> = { window_from: parameters.from };
  const sql = `
    SELECT 1 AS found FROM switchboard.quality_scored
    WHERE request_occurred_at IS NULL
      AND occurred_at >= {window_from:DateTime64(3, 'UTC')} - ${SCORE_CLOCK_SKEW_ALLOWANCE}${scoreFilterSql(parameters, scope, params)}
    LIMIT 1`;
  return { sql, params };
}

/**
 * Quality per group, metric and kind of score, windowed and grouped by the
 * scored request's time and dimensions. Numbers are grouped by their scale
 * too, so a 4 of 5 and a 4 of 10 never share a mean; categories by
 * category. Three sources, summed:
 *   - whole hours from the quality_hourly rollup (not by key or tag, which
 *     it does not hold);
 *   - the partial hours at the window's edges, or the whole window by key or
 *     tag, from the raw scores, which carry their request (quality_scored v2);
 *   - with `withLegacy`, scores that carry no request, joined to the
 *     requests they name (vendor, model, task, team, key, tags and time come
 *     from the request), as every score was read before the rollup.
 * Every source gives rows of sums, added up under one GROUP BY; the mean and
 * sample variance come from them: Σx/n and (Σx² − (Σx)²/n)/(n − 1).
 */
export function qualitySql(
  parameters: MatrixParameters,
  scope: TenantScope,
  withLegacy: boolean,
): BoundQuery {
  const params: Record<string, unknown> = {
    window_from: parameters.from,
    window_to: parameters.to,
  };
  const explodeTags = parameters.groupBy.includes("tag");
  const rawOnly = readsRawOnly(parameters);
  const scoreFilters = scoreFilterSql(parameters, scope, params);
  const dimensionFilters = filterSql(
    parameters.filters,
    scope,
    params,
    explodeTags ? "exploded-requests" : "requests",
  );
  const tagColumn = explodeTags ? ` ${TAG_EXPRESSION} AS tag,` : "";
  const sources: string[] = [];

  let rawWindow = SCORED_REQUEST_WINDOW;
  if (!rawOnly) {
    const tiers = splitWindow(parameters.from, parameters.to, false);
    bindRanges(params, "hours", tiers.hours);
    bindRanges(params, "raw", tiers.raw);
    rawWindow = rangeSql("request_occurred_at", "DateTime64(3, 'UTC')", "raw");
    // Rows of parts not yet merged add up like merged ones: no FINAL needed.
    sources.push(`
      SELECT hour, tenant_id, vendor, model, task, team, '' AS key_id, metric,
             value_type AS type, minimum, maximum, category, scores AS n, true_scores AS n_true,
             number_sum AS x_sum, number_sum_squares AS x_sum_squares
      FROM switchboard.quality_hourly
      WHERE ${rangeSql("hour", "DateTime('UTC')", "hours")}${filterSql(parameters.filters, scope, params, "rollup")}${
        parameters.qualitySources ? " AND source IN {quality_sources:Array(String)}" : ""
      }`);
  }
  sources.push(`
      SELECT toStartOfHour(assumeNotNull(request_occurred_at)) AS hour, tenant_id, vendor, model,
             task, team, key_id,${tagColumn} metric, ${SCORE_KIND_COLUMNS}, ${SCORE_SUMS}
      FROM switchboard.quality_scored FINAL
      WHERE request_occurred_at IS NOT NULL
        -- A score never precedes its request by more than the skew: the sorting key bounds the read.
        AND occurred_at >= {window_from:DateTime64(3, 'UTC')} - ${SCORE_CLOCK_SKEW_ALLOWANCE}
        AND ${rawWindow}${scoreFilters}${dimensionFilters}`);
  if (withLegacy) {
    sources.push(`
      SELECT requested.hour AS hour, requested.tenant_id AS tenant_id, requested.vendor AS vendor,
             requested.model AS model, requested.task AS task, requested.team AS team,
             requested.key_id AS key_id,${explodeTags ? " requested.tag AS tag," : ""}
             scored.metric AS metric, scored.type AS type, scored.minimum AS minimum,
             scored.maximum AS maximum, scored.category AS category, scored.n AS n,
             scored.n_true AS n_true, scored.x_sum AS x_sum, scored.x_sum_squares AS x_sum_squares
      -- The scores are the right side, the one a hash join holds in memory:
      -- a window has fewer scores than requests.
      FROM (
        SELECT tenant_id, request_id, toStartOfHour(occurred_at) AS hour, vendor, model, task,
               team, key_id${explodeTags ? `, ${TAG_EXPRESSION} AS tag` : ""}
        FROM switchboard.request_completed FINAL
        WHERE ${EVENT_WINDOW}${dimensionFilters}
      ) AS requested
      INNER JOIN (
        SELECT tenant_id, request_id, metric, ${SCORE_KIND_COLUMNS}, ${SCORE_SUMS}
        FROM switchboard.quality_scored FINAL
        WHERE request_occurred_at IS NULL
          AND occurred_at >= {window_from:DateTime64(3, 'UTC')} - ${SCORE_CLOCK_SKEW_ALLOWANCE}${scoreFilters}
      ) AS scored
      ON scored.tenant_id = requested.tenant_id AND scored.request_id = requested.request_id`);
  }
  const group = groupSql(parameters.groupBy);
  const sql = `
    SELECT ${group.select},
      metric, type, minimum, maximum, category,
      sum(n) AS scores,
      sum(n_true) AS true_scores,
      if(type = 'number', sum(x_sum) / scores, NULL) AS mean,
      -- Rounding can take Σx² − (Σx)²/n a hair below zero when every score is equal.
      if(type = 'number' AND scores > 1,
         greatest(0, (sum(x_sum_squares) - pow(sum(x_sum), 2) / scores) / (scores - 1)),
         NULL) AS sample_variance
    FROM (${sources.join("\n      UNION ALL")}
    )
    GROUP BY ${group.keys}, metric, type, minimum, maximum, category
    ORDER BY ${group.keys}, metric, type, minimum, maximum, category`;
  return { sql, params };
}
