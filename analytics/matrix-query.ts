// The matrix's parameters, its dimensions and metrics, and the SQL pieces
// every query over them shares. Every identifier in the SQL comes from the
// fixed maps below, never from the caller's text; values are bound as query
// parameters. The queries themselves, one builder per path, are in
// matrix-sql/.
import { z } from "zod";
import { QUALITY_SOURCES, SERVICE_TIERS } from "../events/schemas.ts";
import type { TenantScope } from "./access.ts";
import { type BoundQuery, bound } from "./matrix-sql/bound.ts";
import { dimensionValue, listParameter, resolveWindow, windowFields } from "./parameters.ts";

/**
 * The dimensions a matrix may be grouped and filtered by, and the column each
 * one reads. `key` is request_completed's key_id; `tag` is one element of its
 * `tags` array (the raw events are read with arrayJoin, so a request with two
 * tags is in two groups; an untagged request is under tag ""); `service_tier`
 * the tier a request was billed at (request_completed v4; failed attempts
 * are under tier "", their tier unknown).
 */
export const DIMENSION_COLUMNS = {
  vendor: "vendor",
  model: "model",
  task: "task",
  tenant: "tenant_id",
  team: "team",
  key: "key_id",
  tag: "tag",
  service_tier: "service_tier",
} as const;
export type Dimension = keyof typeof DIMENSION_COLUMNS;
export const DIMENSIONS = Object.keys(DIMENSION_COLUMNS) as Dimension[];

/**
 * Dimensions the rollups do not hold (0009_rollups_by_team.sql says why for
 * key and tag; 0014 for the service tier): a matrix grouped or filtered by
 * one is computed from the raw events.
 */
export const RAW_ONLY_DIMENSIONS: readonly Dimension[] = ["key", "tag", "service_tier"];

/** Dimensions quality scores do not carry (quality_scored v2's scored request has no tier). */
export const UNSCORED_DIMENSIONS: readonly Dimension[] = ["service_tier"];

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
      'keys to group by, comma list or repeated: vendor, model, task, tenant, team, key, tag, service_tier and at most one time bucket (hour, day, week, month; UTC, weeks from Monday). Default vendor,task. A failed attempt counts under the team, key and tags of its caller ("" for those stored before attempt_failed v3). By tag, a request with two tags counts under each, so requests and spend summed over tags exceed the totals and the shares (taken of the distinct totals) sum to more than 1; untagged requests are under tag "". Key, tag and service tier are read from the raw events, with exact quantiles; failed attempts are under service tier ""',
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
  service_tier: listParameter(z.enum(SERVICE_TIERS))
    .optional()
    .describe(
      "only requests billed at these service tiers (standard, batch, flex, priority); failed attempts, whose tier is unknown, are left out",
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
    for (const dimension of UNSCORED_DIMENSIONS) {
      const used = groupBy.includes(dimension) || parameters[dimension] !== undefined;
      if (used && metrics.includes("quality")) {
        context.addIssue({
          code: "custom",
          path: ["metrics"],
          message: `quality scores do not carry ${dimension}: ask for quality without grouping or filtering by it`,
        });
      }
    }
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
        service_tier: parameters.service_tier,
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

/** `AND column IN {…}` for each filter given and for the token's tenants, with their values. */
export function filterClause(
  filters: DimensionFilters,
  scope: TenantScope,
  source: FilterSource = "requests",
): BoundQuery {
  const clauses: string[] = [];
  const params: Record<string, unknown> = {};
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
  return bound(clauses.map((clause) => ` AND ${clause}`).join(""), params);
}

/**
 * filterClause for SQL written by hand around one parameters object (the
 * what-if and the vendor brief): the clause's values are added to `params`.
 */
export function filterSql(
  filters: DimensionFilters,
  scope: TenantScope,
  params: Record<string, unknown>,
  source: FilterSource = "requests",
): string {
  const clause = filterClause(filters, scope, source);
  Object.assign(params, clause.params);
  return clause.sql;
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
