// The vendor brief: what a procurement lead takes into a renewal with one
// vendor. Everything in it comes from the matrix (rollups plus raw edges) and
// the failed attempts, so each figure can be traced to events; money exact.
import { z } from "zod";
import type { ClickHouseClient } from "../clickhouse/client.ts";
import { formatDecimal, parseDecimal, scaleFactor } from "../events/money.ts";
import type { TenantScope } from "./access.ts";
import { AnalyticsError } from "./errors.ts";
import { type MatrixRow, type QualitySummary, readMatrix } from "./matrix.ts";
import { filterSql, type MatrixParameters, type Metric } from "./matrix-query.ts";
import { dimensionValue, listParameter, resolveWindow, windowFields } from "./parameters.ts";
import {
  EMPTY_SLO_CONFIG,
  type ResolvedObjective,
  resolveObjectives,
  type SloConfig,
  type SloObjective,
  type SloScope,
  scopesOf,
} from "./slo.ts";

export const BRIEF_FORMATS = ["json", "md", "csv", "html"] as const;
export type BriefFormat = (typeof BRIEF_FORMATS)[number];

export const briefPathFields = {
  vendor: dimensionValue.describe("the vendor id, as in the matrix"),
};

const rate = z.coerce.number().min(0).max(1);

export const briefParameterFields = {
  ...windowFields,
  format: z
    .enum(BRIEF_FORMATS)
    .default("json")
    .describe("json, md (Markdown), csv (the per-task table) or html (a printable page)"),
  tenant: listParameter(dimensionValue)
    .optional()
    .describe("only these tenants (within the token's tenants)"),
  quality_metric: z
    .string()
    .max(64)
    .optional()
    .describe("a boolean or number quality metric an alternative must meet to count as routable"),
  quality_floor: z.coerce
    .number()
    .optional()
    .describe(
      "the lowest mean of quality_metric an alternative may have (default: this vendor's own mean)",
    ),
  slo_availability: rate
    .optional()
    .describe(
      "target share of requests that succeed, for this brief only (default: analytics.slo in config, else 0.99)",
    ),
  slo_ttft_p95_ms: z.coerce
    .number()
    .positive()
    .optional()
    .describe("target p95 time to first token, ms (default: analytics.slo, else 2000)"),
  slo_error_rate: rate
    .optional()
    .describe("target share of attempts that fail (default: analytics.slo, else 0.02)"),
};

export const briefParameters = z.object(briefParameterFields).strict();
export type BriefParameters = z.output<typeof briefParameters>;

type Row = MatrixRow & { vendor: string; model: string; task: string };

/**
 * A matrix of the brief's window. Each asks only for the metrics the brief
 * reads from it: a quantile or quality not asked for is never merged, and
 * merging t-digests is most of what a matrix costs.
 */
function parameters(
  window: { from: Date; to: Date },
  groupBy: MatrixParameters["groupBy"],
  metrics: Metric[],
): MatrixParameters {
  return {
    ...window,
    groupBy,
    filters: {},
    metrics,
    quantileMethod: "t-digest",
    qualitySources: undefined,
  };
}

/** What the per-task rows and their best alternatives show. */
const CANDIDATE_METRICS: Metric[] = [
  "requests",
  "succeeded",
  "cost_usd",
  "cost_per_success_usd",
  "success_rate",
  "latency_ms_p95",
  "ttft_ms_p95",
  "quality",
];

/** What the service levels are computed from (sloResults). */
const SLO_METRICS: Metric[] = [
  "requests",
  "succeeded",
  "failed_attempts",
  "success_rate",
  "ttft_ms_p95",
];

function qualityMean(row: MatrixRow, metric: string | undefined): number | null {
  if (!metric) return null;
  const summary = (row.quality as QualitySummary[] | undefined)?.find(
    (candidate) => candidate.metric === metric && candidate.type !== "category",
  );
  return summary && summary.type !== "category" ? summary.mean : null;
}

const money = (value: unknown) => parseDecimal(String(value ?? "0"));

/** How one objective fared in one scope (the whole vendor when model and task are null). */
export interface SloResult {
  objective: "availability" | "ttft_ms_p95" | "error_rate";
  model: string | null;
  task: string | null;
  target: number;
  /** query (this brief's parameter), config:vendor, config:model, config:task, config:model+task, config:default or built-in. */
  target_source: ResolvedObjective["source"];
  observed: number | null;
  met: boolean | null;
}

const OBJECTIVE_NAMES: Record<SloObjective, SloResult["objective"]> = {
  availability: "availability",
  ttft_p95_ms: "ttft_ms_p95",
  error_rate: "error_rate",
};

/** Observed service levels of one matrix row: a vendor, or a vendor's model and/or task. */
function sloResults(
  row: MatrixRow | undefined,
  targets: Record<SloObjective, ResolvedObjective>,
  sloScope: SloScope,
): SloResult[] {
  const requests = Number(row?.requests ?? 0);
  const failedAttempts = Number(row?.failed_attempts ?? 0);
  const failedRequests = requests - Number(row?.succeeded ?? 0);
  const attempts = requests + failedAttempts;
  const observed: Record<SloObjective, number | null> = {
    availability: (row?.success_rate as number | null | undefined) ?? null,
    ttft_p95_ms: (row?.ttft_ms_p95 as number | null | undefined) ?? null,
    error_rate: attempts > 0 ? (failedRequests + failedAttempts) / attempts : null,
  };
  return (Object.keys(OBJECTIVE_NAMES) as SloObjective[]).map((objective) => {
    const { target, source } = targets[objective];
    const value = observed[objective];
    return {
      objective: OBJECTIVE_NAMES[objective],
      model: sloScope.model,
      task: sloScope.task,
      target,
      target_source: source,
      observed: value,
      met: value === null ? null : objective === "availability" ? value >= target : value <= target,
    };
  });
}

export async function readVendorBrief(
  clickhouse: ClickHouseClient,
  vendor: string,
  parameters_: BriefParameters,
  scope: TenantScope,
  sloConfig: SloConfig = EMPTY_SLO_CONFIG,
) {
  const window = resolveWindow(parameters_);
  if (!(await vendorIsKnown(clickhouse, vendor, sloConfig))) {
    throw new AnalyticsError(
      "not_found",
      "No such vendor: no request or failed attempt of it is stored, and analytics.slo names no target for it.",
      "vendor",
    );
  }
  const byDay = await readMatrix(
    clickhouse,
    parameters(window, ["day", "vendor"], ["requests", "cost_usd"]),
    scope,
  );
  const byCandidate = await readMatrix(
    clickhouse,
    parameters(window, ["vendor", "model", "task"], CANDIDATE_METRICS),
    scope,
  );
  const byVendor = await readMatrix(clickhouse, parameters(window, ["vendor"], SLO_METRICS), scope);

  // Spend and share over time.
  const days = [...new Set(byDay.rows.map((row) => String(row.day)))].sort();
  const spendOverTime = days.map((day) => {
    const rows = byDay.rows.filter((row) => row.day === day);
    const total = rows.reduce((sum, row) => sum + money(row.cost_usd), 0n);
    const own = rows.find((row) => row.vendor === vendor);
    const spend = money(own?.cost_usd);
    return {
      day,
      requests: Number(own?.requests ?? 0),
      spend_usd: formatDecimal(spend),
      share_of_spend: total === 0n ? null : formatDecimal((spend * scaleFactor) / total),
    };
  });

  // The per-task matrix beside the best alternative on the same task.
  const rows = byCandidate.rows as Row[];
  const own = rows.filter((row) => row.vendor === vendor && Number(row.requests) > 0);
  const vendorSpend = own.reduce((sum, row) => sum + money(row.cost_usd), 0n);
  let routableSpend = 0n;
  let savings = 0n;
  const tasks = own.map((row) => {
    const floor = parameters_.quality_floor ?? qualityMean(row, parameters_.quality_metric);
    const alternatives = rows
      .filter(
        (candidate) =>
          candidate.task === row.task &&
          candidate.vendor !== vendor &&
          candidate.cost_per_success_usd !== null &&
          Number(candidate.succeeded) > 0,
      )
      .filter((candidate) => {
        if (!parameters_.quality_metric || floor === null) return true;
        const mean = qualityMean(candidate, parameters_.quality_metric);
        return mean !== null && mean >= floor;
      })
      .sort((a, b) => {
        const difference = money(a.cost_per_success_usd) - money(b.cost_per_success_usd);
        return difference < 0n ? -1 : difference > 0n ? 1 : 0;
      });
    const best = alternatives[0];
    const ownPerSuccess =
      row.cost_per_success_usd === null ? null : money(row.cost_per_success_usd);
    const cheaper =
      best !== undefined &&
      (ownPerSuccess === null || money(best.cost_per_success_usd) < ownPerSuccess);
    // At stake: what this task cost here, less what the alternative would charge for as many successes.
    const atStake = cheaper
      ? money(row.cost_usd) - money(best?.cost_per_success_usd) * BigInt(Number(row.succeeded))
      : 0n;
    if (cheaper) {
      routableSpend += money(row.cost_usd);
      savings += atStake > 0n ? atStake : 0n;
    }
    return {
      task: row.task,
      model: row.model,
      requests: row.requests,
      cost_usd: row.cost_usd,
      cost_per_success_usd: row.cost_per_success_usd,
      success_rate: row.success_rate,
      latency_ms_p95: row.latency_ms_p95,
      ttft_ms_p95: row.ttft_ms_p95,
      quality: row.quality,
      best_alternative: best
        ? {
            vendor: best.vendor,
            model: best.model,
            requests: best.requests,
            cost_per_success_usd: best.cost_per_success_usd,
            success_rate: best.success_rate,
            latency_ms_p95: best.latency_ms_p95,
            quality: best.quality,
          }
        : null,
      routable: cheaper,
      savings_at_stake_usd: formatDecimal(atStake > 0n ? atStake : 0n),
    };
  });

  // SLO compliance, on this vendor's requests and attempts, against the
  // targets in config (analytics.slo); then each model and/or task the config
  // sets targets for, from a matrix of that scope alone.
  const totals = byVendor.rows.find((row) => row.vendor === vendor);
  const requests = Number(totals?.requests ?? 0);
  const overrides = {
    availability: parameters_.slo_availability,
    ttft_p95_ms: parameters_.slo_ttft_p95_ms,
    error_rate: parameters_.slo_error_rate,
  };
  const vendorScope: SloScope = { model: null, task: null };
  const slo: SloResult[] = sloResults(
    totals,
    resolveObjectives(sloConfig, vendor, null, overrides),
    vendorScope,
  );
  for (const sloScope of scopesOf(sloConfig, vendor)) {
    const scoped = await readMatrix(
      clickhouse,
      {
        ...parameters(window, ["vendor"], SLO_METRICS),
        filters: {
          vendor: [vendor],
          ...(sloScope.model ? { model: [sloScope.model] } : {}),
          ...(sloScope.task ? { task: [sloScope.task] } : {}),
        },
      },
      scope,
    );
    slo.push(
      ...sloResults(
        scoped.rows[0],
        resolveObjectives(sloConfig, vendor, sloScope, overrides),
        sloScope,
      ),
    );
  }

  return {
    vendor,
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    spend_usd: formatDecimal(vendorSpend),
    requests,
    spend_over_time: spendOverTime,
    tasks,
    routable_share_of_spend:
      vendorSpend === 0n ? null : formatDecimal((routableSpend * scaleFactor) / vendorSpend),
    locked_share_of_spend:
      vendorSpend === 0n
        ? null
        : formatDecimal(((vendorSpend - routableSpend) * scaleFactor) / vendorSpend),
    savings_at_stake_usd: formatDecimal(savings),
    slo,
    failover_incidents: await readFailoverIncidents(clickhouse, vendor, window, scope),
    method: {
      routable:
        "a task is routable when another vendor served it for less per successful request" +
        (parameters_.quality_metric
          ? ` with a mean ${parameters_.quality_metric} at or above ${parameters_.quality_floor ?? "this vendor's own mean"}`
          : " (no quality floor asked for)"),
      savings:
        "per routable task: this vendor's spend less the alternative's cost per success times this vendor's successes",
      error_rate:
        "(failed requests + failed attempts) / (requests + failed attempts) on this vendor",
      slo_targets:
        "from analytics.slo in config: a model or task target, else this brief's slo_ query parameters, the vendor's target, the config default, the built-in default (availability 0.99, ttft p95 2000 ms, error rate 0.02); target_source says which",
      quantiles: byVendor.quantiles.note,
    },
  };
}

export type VendorBrief = Awaited<ReturnType<typeof readVendorBrief>>;

/**
 * Whether a brief on `vendor` means anything: the ledger holds a request or a
 * failed attempt of it from any tenant, at any time, or the operator set a
 * service-level target for it. Vendors are the operator's, not a tenant's
 * (every key can route to every configured vendor), so this is asked across
 * tenants: a tenant's brief on a vendor only others used is its own zeros,
 * true for it and telling it nothing of theirs, while a name no request ever
 * went to (a typo) is a 404, not zeros that look like a quiet month. Read
 * from the daily all-tenants rollup, which every request and failed attempt
 * reaches and which holds a row per day, vendor, model, task and team.
 */
async function vendorIsKnown(
  clickhouse: ClickHouseClient,
  vendor: string,
  sloConfig: SloConfig,
): Promise<boolean> {
  if (sloConfig.targets.some((target) => target.vendor === vendor)) return true;
  const result = await clickhouse.query({
    query: `SELECT 1 AS found FROM switchboard.usage_daily_all_tenants
            WHERE vendor = {vendor:String} LIMIT 1`,
    query_params: { vendor },
    format: "JSONEachRow",
  });
  return (await result.json()).length > 0;
}

/** Hours in which this vendor's attempts failed and were failed over, worst first. */
async function readFailoverIncidents(
  clickhouse: ClickHouseClient,
  vendor: string,
  window: { from: Date; to: Date },
  scope: TenantScope,
) {
  const params: Record<string, unknown> = {
    window_from: window.from,
    window_to: window.to,
    vendor,
  };
  const where = filterSql({}, scope, params);
  const result = await clickhouse.query({
    query: `SELECT toStartOfHour(occurred_at) AS hour, count() AS failed_attempts,
                   groupUniqArray(error_class) AS error_classes
            FROM switchboard.attempt_failed FINAL
            WHERE occurred_at >= {window_from:DateTime64(3, 'UTC')}
              AND occurred_at < {window_to:DateTime64(3, 'UTC')}
              AND vendor = {vendor:String}${where}
            GROUP BY hour ORDER BY failed_attempts DESC, hour LIMIT 20`,
    query_params: params,
    format: "JSONEachRow",
  });
  const records = await result.json<{
    hour: string;
    failed_attempts: string;
    error_classes: string[];
  }>();
  return records.map((record) => ({
    hour: `${record.hour.replace(" ", "T")}Z`,
    failed_attempts: Number(record.failed_attempts),
    error_classes: [...record.error_classes].sort(),
  }));
}
