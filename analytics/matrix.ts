// Runs the matrix queries and turns their records into rows: exact money and
// shares in BigInt, rates, quantiles, and quality with confidence intervals.
import type { ClickHouseClient } from "../clickhouse/client.ts";
import { formatDecimal, parseDecimal, scaleFactor } from "../events/money.ts";
import type { TenantScope } from "./access.ts";
import { studentTInterval, wilsonInterval } from "./confidence-intervals.ts";
import {
  type GroupKey,
  groupColumn,
  type MatrixParameters,
  type Metric,
  readsRawOnly,
  TIME_BUCKETS,
  type TimeBucket,
} from "./matrix-query.ts";
import { legacyScoresQuery, qualityQuery } from "./matrix-sql/quality-paths.ts";
import { matrixTotalsQuery, rawMatrixQuery } from "./matrix-sql/raw-path.ts";
import { rollupMatrixQuery } from "./matrix-sql/rollup-path.ts";

interface MatrixRecord {
  requests: string;
  succeeded: string;
  failed_over: string;
  failed_attempts: string;
  unpriced_requests: string;
  input_tokens: string;
  cached_input_tokens: string;
  cache_write_input_tokens: string;
  output_tokens: string;
  reasoning_tokens: string;
  cost_usd: string;
  list_cost_usd: string;
  latency_ms_quantiles: (number | string)[];
  ttft_observed: string;
  ttft_ms_quantiles: (number | string)[];
  [groupColumn: string]: unknown;
}

interface QualityRecord {
  metric: string;
  type: "boolean" | "number" | "category";
  minimum: number | null;
  maximum: number | null;
  category: string | null;
  scores: string;
  true_scores: string;
  mean: number | string | null;
  sample_variance: number | string | null;
  [groupColumn: string]: unknown;
}

export interface QualityCategory {
  category: string;
  count: number;
  share: number;
  ci95_low: number;
  ci95_high: number;
}

/** Quality of one metric in one row; `interval` names how ci95 was computed. */
export type QualitySummary =
  | {
      metric: string;
      type: "boolean";
      count: number;
      mean: number;
      ci95_low: number;
      ci95_high: number;
      interval: "wilson";
    }
  | {
      metric: string;
      type: "number";
      minimum: number;
      maximum: number;
      count: number;
      mean: number;
      /** Sample standard deviation; null below two scores. */
      standard_deviation: number | null;
      ci95_low: number | null;
      ci95_high: number | null;
      interval: "student-t";
    }
  | {
      metric: string;
      type: "category";
      count: number;
      categories: QualityCategory[];
      interval: "wilson";
    };

export type MatrixRow = Partial<Record<GroupKey, string>> & Partial<Record<Metric, unknown>>;

export interface MatrixAnswer {
  from: string;
  to: string;
  quantiles: { method: "t-digest" | "exact"; approximate: boolean; note: string };
  rows: MatrixRow[];
}

const QUANTILE_NOTES = {
  "t-digest":
    "latency and ttft quantiles are merged t-digests from the hourly rollups: approximate, typically within 1% in rank",
  exact: "latency and ttft quantiles are exact, computed from the raw events",
  raw: "grouped or filtered by key, tag or service tier, which the rollups do not hold: every figure, quantiles included, is computed exactly from the raw events",
} as const;

/** The distinct requests and spend the shares are taken of. */
interface Totals {
  requests: bigint;
  cost: bigint;
}

export async function readMatrix(
  clickhouse: ClickHouseClient,
  parameters: MatrixParameters,
  scope: TenantScope,
): Promise<MatrixAnswer> {
  const rawOnly = readsRawOnly(parameters);
  const exact = parameters.quantileMethod === "exact" || rawOnly;
  const query = exact ? rawMatrixQuery(parameters, scope) : rollupMatrixQuery(parameters, scope);
  const records = await queryRecords<MatrixRecord>(clickhouse, query.sql, query.params);
  const quality = parameters.metrics.includes("quality")
    ? await readQuality(clickhouse, parameters, scope)
    : new Map<string, QualitySummary[]>();
  // By tag a request may be in several rows: shares are of the distinct totals.
  let totals: Totals = {
    requests: records.reduce((sum, record) => sum + BigInt(record.requests), 0n),
    cost: records.reduce((sum, record) => sum + parseDecimal(record.cost_usd), 0n),
  };
  if (parameters.groupBy.includes("tag")) {
    const totalsQuery = matrixTotalsQuery(parameters, scope);
    const [record] = await queryRecords<{ requests: string; cost_usd: string }>(
      clickhouse,
      totalsQuery.sql,
      totalsQuery.params,
    );
    totals = {
      requests: BigInt(record?.requests ?? 0),
      cost: parseDecimal(record?.cost_usd ?? "0"),
    };
  }
  return {
    from: parameters.from.toISOString(),
    to: parameters.to.toISOString(),
    quantiles: {
      method: exact ? "exact" : "t-digest",
      approximate: !exact,
      note: QUANTILE_NOTES[rawOnly ? "raw" : parameters.quantileMethod],
    },
    rows: toMatrixRows(records, parameters, quality, totals),
  };
}

async function queryRecords<T>(
  clickhouse: ClickHouseClient,
  query: string,
  params: Readonly<Record<string, unknown>>,
): Promise<T[]> {
  const result = await clickhouse.query({
    query,
    query_params: { ...params },
    format: "JSONEachRow",
  });
  return result.json<T>();
}

/** A group's key values joined, to match quality summaries to matrix rows. */
function groupIdentity(record: Record<string, unknown>, groupBy: GroupKey[]): string {
  return JSON.stringify(groupBy.map((key) => record[groupColumn(key)]));
}

/** ClickHouse's "2026-11-20 10:00:00" (UTC) as ISO-8601. */
function bucketToIso(value: unknown): string {
  return `${String(value).replace(" ", "T")}Z`;
}

/** numerator / denominator as a decimal string truncated at 18 places; null over zero. */
function exactRatio(numerator: bigint, denominator: bigint): string | null {
  if (denominator === 0n) return null;
  return formatDecimal((numerator * scaleFactor) / denominator);
}

function toMatrixRows(
  records: MatrixRecord[],
  parameters: MatrixParameters,
  quality: Map<string, QualitySummary[]>,
  totals: Totals,
): MatrixRow[] {
  const wanted = new Set(parameters.metrics);
  return records.map((record) => {
    const requests = Number(record.requests);
    const succeeded = Number(record.succeeded);
    const cost = parseDecimal(record.cost_usd);
    const listCost = parseDecimal(record.list_cost_usd);
    const ttftObserved = Number(record.ttft_observed);
    const quantile = (values: (number | string)[], index: number, present: boolean) =>
      present ? Number(values[index]) : null;
    const all: Record<Metric, unknown> = {
      requests,
      succeeded,
      failed_attempts: Number(record.failed_attempts),
      share_of_requests: exactRatio(BigInt(record.requests), totals.requests),
      share_of_spend: exactRatio(cost, totals.cost),
      cost_usd: record.cost_usd,
      list_spend_usd: record.list_cost_usd,
      // What the contracts saved against list prices; negative if a contract costs more.
      savings_vs_list_usd: formatDecimal(listCost - cost),
      unpriced_requests: Number(record.unpriced_requests),
      // Exact division, truncated at 18 decimal places (the ledger's money scale).
      cost_per_request_usd: requests > 0 ? formatDecimal(cost / BigInt(requests)) : null,
      cost_per_success_usd: succeeded > 0 ? formatDecimal(cost / BigInt(succeeded)) : null,
      success_rate: requests > 0 ? succeeded / requests : null,
      failover_rate: requests > 0 ? Number(record.failed_over) / requests : null,
      input_tokens: Number(record.input_tokens),
      cached_input_tokens: Number(record.cached_input_tokens),
      cache_write_input_tokens: Number(record.cache_write_input_tokens),
      output_tokens: Number(record.output_tokens),
      reasoning_tokens: Number(record.reasoning_tokens),
      latency_ms_p50: quantile(record.latency_ms_quantiles, 0, requests > 0),
      latency_ms_p95: quantile(record.latency_ms_quantiles, 1, requests > 0),
      latency_ms_p99: quantile(record.latency_ms_quantiles, 2, requests > 0),
      ttft_ms_p50: quantile(record.ttft_ms_quantiles, 0, ttftObserved > 0),
      ttft_ms_p95: quantile(record.ttft_ms_quantiles, 1, ttftObserved > 0),
      ttft_ms_p99: quantile(record.ttft_ms_quantiles, 2, ttftObserved > 0),
      quality: quality.get(groupIdentity(record, parameters.groupBy)) ?? [],
    };
    const row: MatrixRow = {};
    for (const key of parameters.groupBy) {
      const value = record[groupColumn(key)];
      row[key] = TIME_BUCKETS.includes(key as TimeBucket) ? bucketToIso(value) : String(value);
    }
    for (const metric of parameters.metrics) if (wanted.has(metric)) row[metric] = all[metric];
    return row;
  });
}

async function readQuality(
  clickhouse: ClickHouseClient,
  parameters: MatrixParameters,
  scope: TenantScope,
): Promise<Map<string, QualitySummary[]>> {
  const legacy = legacyScoresQuery(parameters, scope);
  const withLegacy = (await queryRecords(clickhouse, legacy.sql, legacy.params)).length > 0;
  const query = qualityQuery(parameters, scope, withLegacy);
  const records = await queryRecords<QualityRecord>(clickhouse, query.sql, query.params);
  const byGroup = new Map<string, QualitySummary[]>();
  for (const record of records) {
    const identity = groupIdentity(record, parameters.groupBy);
    const summaries = byGroup.get(identity) ?? [];
    byGroup.set(identity, summaries);
    const count = Number(record.scores);
    if (record.type === "boolean") {
      const trueScores = Number(record.true_scores);
      const interval = wilsonInterval(trueScores, count);
      summaries.push({
        metric: record.metric,
        type: "boolean",
        count,
        mean: trueScores / count,
        ci95_low: interval?.low ?? 0,
        ci95_high: interval?.high ?? 1,
        interval: "wilson",
      });
    } else if (record.type === "number") {
      const mean = Number(record.mean);
      const interval = studentTInterval(mean, Number(record.sample_variance), count);
      summaries.push({
        metric: record.metric,
        type: "number",
        minimum: Number(record.minimum),
        maximum: Number(record.maximum),
        count,
        mean,
        standard_deviation: count > 1 ? Math.sqrt(Number(record.sample_variance)) : null,
        ci95_low: interval?.low ?? null,
        ci95_high: interval?.high ?? null,
        interval: "student-t",
      });
    } else {
      // Category records arrive one per category, in order: gather them under their metric.
      let summary = summaries.find(
        (candidate) => candidate.type === "category" && candidate.metric === record.metric,
      );
      if (!summary) {
        summary = {
          metric: record.metric,
          type: "category",
          count: 0,
          categories: [],
          interval: "wilson",
        };
        summaries.push(summary);
      }
      if (summary.type === "category") {
        summary.count += count;
        summary.categories.push({
          category: String(record.category),
          count,
          share: 0,
          ci95_low: 0,
          ci95_high: 0,
        });
      }
    }
  }
  for (const summaries of byGroup.values()) {
    for (const summary of summaries) {
      if (summary.type !== "category") continue;
      for (const category of summary.categories) {
        const interval = wilsonInterval(category.count, summary.count);
        category.share = category.count / summary.count;
        category.ci95_low = interval?.low ?? 0;
        category.ci95_high = interval?.high ?? 1;
      }
    }
  }
  return byGroup;
}
