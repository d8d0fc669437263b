// What-if re-pricing: the observed traffic of a period with some of it moved
// to another candidate or priced under another contract. Money stays exact
// (BigInt at the ledger's scale, truncated at 18 places); token counts on the
// target are estimates, and the answer says how each figure was made.
import type { ClickHouseClient } from "../clickhouse/client.ts";
import { formatDecimal, parseDecimal, scaleFactor } from "../events/money.ts";
import type { TenantScope } from "./access.ts";
import {
  type Interval,
  newcombeDifferenceInterval,
  welchDifferenceInterval,
} from "./confidence-intervals.ts";
import { type MatrixRow, type QualitySummary, readMatrix } from "./matrix.ts";
import { filterSql, type MatrixParameters, type Metric } from "./matrix-query.ts";
import { resolveWindow } from "./parameters.ts";
import type { WhatIfMove, WhatIfRequest } from "./whatif-request.ts";

interface Observed {
  requests: number;
  cost: bigint;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  latencyP50: number | null;
  latencyP95: number | null;
  quality: QualitySummary[];
}

interface LatencySample {
  count: number;
  mean: number;
  sampleVariance: number;
}

const OBSERVED_METRICS: Metric[] = [
  "requests",
  "cost_usd",
  "input_tokens",
  "cached_input_tokens",
  "output_tokens",
  "latency_ms_p50",
  "latency_ms_p95",
  "quality",
];

const candidateKey = (vendor: string, model: string, task: string) =>
  JSON.stringify([vendor, model, task]);

function toObserved(row: MatrixRow | undefined): Observed {
  return {
    requests: Number(row?.requests ?? 0),
    cost: parseDecimal(String(row?.cost_usd ?? "0")),
    inputTokens: Number(row?.input_tokens ?? 0),
    cachedInputTokens: Number(row?.cached_input_tokens ?? 0),
    outputTokens: Number(row?.output_tokens ?? 0),
    latencyP50: (row?.latency_ms_p50 as number | null) ?? null,
    latencyP95: (row?.latency_ms_p95 as number | null) ?? null,
    quality: (row?.quality as QualitySummary[] | undefined) ?? [],
  };
}

function matrixParameters(
  window: { from: Date; to: Date },
  groupBy: MatrixParameters["groupBy"],
  filters: MatrixParameters["filters"],
  metrics: Metric[],
): MatrixParameters {
  return {
    ...window,
    groupBy,
    filters,
    metrics,
    quantileMethod: "t-digest",
    qualitySources: undefined,
  };
}

async function readLatencySamples(
  clickhouse: ClickHouseClient,
  window: { from: Date; to: Date },
  filters: MatrixParameters["filters"],
  scope: TenantScope,
): Promise<Map<string, LatencySample>> {
  const params: Record<string, unknown> = { window_from: window.from, window_to: window.to };
  const where = filterSql(filters, scope, params);
  const result = await clickhouse.query({
    query: `SELECT vendor, model, task, count() AS requests, avg(latency_ms) AS mean,
                   varSamp(latency_ms) AS sample_variance
            FROM switchboard.request_completed FINAL
            WHERE occurred_at >= {window_from:DateTime64(3, 'UTC')}
              AND occurred_at < {window_to:DateTime64(3, 'UTC')}${where}
            GROUP BY vendor, model, task`,
    query_params: params,
    format: "JSONEachRow",
  });
  const records = await result.json<{
    vendor: string;
    model: string;
    task: string;
    requests: string;
    mean: number;
    sample_variance: number;
  }>();
  return new Map(
    records.map((record) => [
      candidateKey(record.vendor, record.model, record.task),
      {
        count: Number(record.requests),
        mean: Number(record.mean),
        sampleVariance: Number(record.sample_variance),
      },
    ]),
  );
}

function tokenRatios(move: WhatIfMove, source: Observed, target: Observed) {
  const inPlace = move.from.vendor === move.to.vendor && move.from.model === move.to.model;
  if (inPlace) {
    return { input: 1, output: 1, method: "the same candidate: its own observed tokens" };
  }
  if (target.requests === 0 || source.requests === 0 || source.inputTokens === 0) {
    return {
      input: 1,
      output: 1,
      method: `assumed equal: ${move.to.vendor}/${move.to.model} has no requests on ${move.task} in the period, so its tokenizer's counts are unknown`,
    };
  }
  const perRequest = (tokens: number, requests: number) => tokens / requests;
  const input =
    perRequest(target.inputTokens, target.requests) /
    perRequest(source.inputTokens, source.requests);
  const output =
    source.outputTokens === 0
      ? 1
      : perRequest(target.outputTokens, target.requests) /
        perRequest(source.outputTokens, source.requests);
  return {
    input,
    output,
    method: `observed on ${move.task}: mean tokens per request of ${move.to.vendor}/${move.to.model} (${target.requests} requests) over ${move.from.vendor}/${move.from.model} (${source.requests} requests); cached input scales with input`,
  };
}

const perMillion = 1_000_000n;

function qualityDeltas(source: QualitySummary[], target: QualitySummary[], move: WhatIfMove) {
  const metrics = [...new Set([...source, ...target].map((summary) => summary.metric))].sort();
  return metrics.map((metric) => {
    const from = source.find((summary) => summary.metric === metric);
    const to = target.find((summary) => summary.metric === metric);
    const missing = !from ? move.from : !to ? move.to : null;
    if (missing || !from || !to) {
      return {
        metric,
        delta: null,
        note: `no ${metric} scores for ${missing?.vendor}/${missing?.model} on ${move.task} in the period`,
      };
    }
    if (from.type === "boolean" && to.type === "boolean") {
      const interval = newcombeDifferenceInterval(
        { successes: Math.round(from.mean * from.count), trials: from.count },
        { successes: Math.round(to.mean * to.count), trials: to.count },
      );
      return differenceOf(metric, from, to, interval, "newcombe-wilson");
    }
    if (from.type === "number" && to.type === "number") {
      if (from.minimum !== to.minimum || from.maximum !== to.maximum) {
        return { metric, delta: null, note: "scored on different scales; not comparable" };
      }
      const interval = welchDifferenceInterval(
        { count: from.count, mean: from.mean, sampleVariance: (from.standard_deviation ?? 0) ** 2 },
        { count: to.count, mean: to.mean, sampleVariance: (to.standard_deviation ?? 0) ** 2 },
      );
      return differenceOf(metric, from, to, interval, "welch-t");
    }
    return { metric, delta: null, note: "categories are compared share by share in the matrix" };
  });
}

function differenceOf(
  metric: string,
  from: { count: number; mean: number },
  to: { count: number; mean: number },
  interval: Interval | null,
  method: string,
) {
  return {
    metric,
    from: { count: from.count, mean: from.mean },
    to: { count: to.count, mean: to.mean },
    delta: to.mean - from.mean,
    ci95_low: interval?.low ?? null,
    ci95_high: interval?.high ?? null,
    interval: interval ? method : "none: fewer than two observations on a side",
  };
}

export async function runWhatIf(
  clickhouse: ClickHouseClient,
  request: WhatIfRequest,
  scope: TenantScope,
) {
  const window = resolveWindow(request);
  const involved = {
    vendor: [...new Set(request.moves.flatMap((move) => [move.from.vendor, move.to.vendor]))],
    model: [...new Set(request.moves.flatMap((move) => [move.from.model, move.to.model]))],
    task: [...new Set(request.moves.map((move) => move.task))],
    tenant: undefined,
  };
  const [baseline, candidates, latencies] = [
    await readMatrix(
      clickhouse,
      matrixParameters(
        window,
        ["tenant"],
        { vendor: undefined, model: undefined, task: undefined, tenant: undefined },
        ["requests", "cost_usd"],
      ),
      scope,
    ),
    await readMatrix(
      clickhouse,
      matrixParameters(window, ["vendor", "model", "task"], involved, OBSERVED_METRICS),
      scope,
    ),
    await readLatencySamples(clickhouse, window, involved, scope),
  ];
  const baselineCost = baseline.rows.reduce(
    (sum, row) => sum + parseDecimal(String(row.cost_usd)),
    0n,
  );
  const rowsByCandidate = new Map(
    candidates.rows.map((row) => [
      candidateKey(String(row.vendor), String(row.model), String(row.task)),
      row,
    ]),
  );

  let projectedTotal: bigint | null = baselineCost;
  const moves = request.moves.map((move) => {
    const source = toObserved(
      rowsByCandidate.get(candidateKey(move.from.vendor, move.from.model, move.task)),
    );
    const target = toObserved(
      rowsByCandidate.get(candidateKey(move.to.vendor, move.to.model, move.task)),
    );
    const share = parseDecimal(move.share);
    const shareNumber = Number(move.share);
    const removed = (source.cost * share) / scaleFactor;
    const ratios = tokenRatios(move, source, target);
    const projectedTokens = {
      input: Math.round(shareNumber * source.inputTokens * ratios.input),
      cached_input: Math.round(shareNumber * source.cachedInputTokens * ratios.input),
      output: Math.round(shareNumber * source.outputTokens * ratios.output),
    };
    let projected: bigint | null = null;
    let pricing: string;
    if (move.price) {
      const inputPrice = parseDecimal(move.price.input);
      const cachedPrice = parseDecimal(move.price.cached_input ?? move.price.input);
      const outputPrice = parseDecimal(move.price.output);
      projected =
        (BigInt(projectedTokens.input - projectedTokens.cached_input) * inputPrice +
          BigInt(projectedTokens.cached_input) * cachedPrice +
          BigInt(projectedTokens.output) * outputPrice) /
        perMillion;
      pricing = "the price given, per million tokens, on the projected tokens";
    } else if (target.requests > 0) {
      // cost_B / requests_B × requests_A × share, divided once so only the end is truncated.
      projected =
        (target.cost * BigInt(source.requests) * share) / (BigInt(target.requests) * scaleFactor);
      pricing = `${move.to.vendor}/${move.to.model}'s observed cost per request on ${move.task}`;
    } else {
      pricing = `none: ${move.to.vendor}/${move.to.model} has no requests on ${move.task} in the period and no price was given`;
    }
    projectedTotal =
      projected === null || projectedTotal === null ? null : projectedTotal - removed + projected;
    const fromLatency = latencies.get(candidateKey(move.from.vendor, move.from.model, move.task));
    const toLatency = latencies.get(candidateKey(move.to.vendor, move.to.model, move.task));
    const latencyInterval =
      fromLatency && toLatency ? welchDifferenceInterval(fromLatency, toLatency) : null;
    return {
      task: move.task,
      from: move.from,
      to: move.to,
      share: move.share,
      observed: {
        requests: source.requests,
        cost_usd: formatDecimal(source.cost),
        input_tokens: source.inputTokens,
        cached_input_tokens: source.cachedInputTokens,
        output_tokens: source.outputTokens,
      },
      moved_requests: formatDecimal(BigInt(source.requests) * share),
      removed_cost_usd: formatDecimal(removed),
      token_ratio: { input: ratios.input, output: ratios.output, method: ratios.method },
      projected_tokens: projectedTokens,
      projected_cost_usd: projected === null ? null : formatDecimal(projected),
      delta_usd: projected === null ? null : formatDecimal(projected - removed),
      pricing,
      latency_ms: {
        from: { mean: fromLatency?.mean ?? null, p50: source.latencyP50, p95: source.latencyP95 },
        to: { mean: toLatency?.mean ?? null, p50: target.latencyP50, p95: target.latencyP95 },
        mean_delta: fromLatency && toLatency ? toLatency.mean - fromLatency.mean : null,
        ci95_low: latencyInterval?.low ?? null,
        ci95_high: latencyInterval?.high ?? null,
        interval: latencyInterval
          ? "welch-t on the mean; p50 and p95 are t-digests, shown without an interval"
          : "none: fewer than two requests on a side",
      },
      quality: qualityDeltas(source.quality, target.quality, move),
    };
  });
  return {
    from: window.from.toISOString(),
    to: window.to.toISOString(),
    baseline: {
      requests: baseline.rows.reduce((sum, row) => sum + Number(row.requests), 0),
      cost_usd: formatDecimal(baselineCost),
    },
    projected: {
      cost_usd: projectedTotal === null ? null : formatDecimal(projectedTotal),
      delta_usd: projectedTotal === null ? null : formatDecimal(projectedTotal - baselineCost),
      note:
        projectedTotal === null
          ? "a move could not be priced; see its `pricing`"
          : "baseline − the moved traffic's cost where it was + its projected cost where it goes",
    },
    moves,
  };
}
