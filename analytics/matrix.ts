import type { ClickHouseClient } from "../clickhouse/client.ts";
import { formatDecimal, parseDecimal } from "../events/money.ts";
import { type GroupKey, type MatrixParameters, matrixSql } from "./matrix-query.ts";

interface MatrixRecord {
  requests: string;
  succeeded: string;
  failed_attempts: string;
  input_tokens: string;
  output_tokens: string;
  cost_usd: string;
  latency_ms_p50: number | string;
  latency_ms_p95: number | string;
  [groupKey: string]: unknown;
}

export type MatrixRow = Partial<Record<GroupKey, string>> & {
  requests: number;
  succeeded: number;
  failed_attempts: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
  cost_per_success_usd: string | null;
  latency_ms_p50: number | null;
  latency_ms_p95: number | null;
};

export async function readMatrix(
  clickhouse: ClickHouseClient,
  parameters: MatrixParameters,
): Promise<MatrixRow[]> {
  const result = await clickhouse.query({
    query: matrixSql(parameters.groupBy),
    query_params: { from: parameters.from, to: parameters.to },
    format: "JSONEachRow",
  });
  const records = await result.json<MatrixRecord>();
  return records.map((record) => toMatrixRow(record, parameters.groupBy));
}

function toMatrixRow(record: MatrixRecord, groupBy: GroupKey[]): MatrixRow {
  const requests = Number(record.requests);
  const succeeded = Number(record.succeeded);
  const row: MatrixRow = {
    requests,
    succeeded,
    failed_attempts: Number(record.failed_attempts),
    input_tokens: Number(record.input_tokens),
    output_tokens: Number(record.output_tokens),
    cost_usd: record.cost_usd,
    // Exact division, truncated at 18 decimal places (the ledger's money scale).
    cost_per_success_usd:
      succeeded > 0 ? formatDecimal(parseDecimal(record.cost_usd) / BigInt(succeeded)) : null,
    latency_ms_p50: requests > 0 ? Number(record.latency_ms_p50) : null,
    latency_ms_p95: requests > 0 ? Number(record.latency_ms_p95) : null,
  };
  for (const key of groupBy) row[key] = String(record[key]);
  return row;
}
