import { z } from "zod";

/** The dimensions a matrix may be grouped by, and the column each one reads. */
export const GROUP_COLUMNS = {
  vendor: "vendor",
  model: "model",
  task: "task",
  tenant: "tenant_id",
} as const;
export type GroupKey = keyof typeof GROUP_COLUMNS;

const DAY_MS = 24 * 60 * 60 * 1000;

const isoDateTime = z.iso.datetime({ offset: true }).transform((text) => new Date(text));

export const matrixParameters = z
  .object({
    from: isoDateTime.optional(),
    to: isoDateTime.optional(),
    group_by: z
      .string()
      .default("vendor,task")
      .transform((text) => text.split(",").map((part) => part.trim()))
      .pipe(
        z
          .array(z.enum(Object.keys(GROUP_COLUMNS) as [GroupKey, ...GroupKey[]]))
          .min(1)
          .refine((keys) => new Set(keys).size === keys.length, "a key appears twice"),
      ),
  })
  .strict()
  .transform((parameters) => {
    const to = parameters.to ?? new Date();
    const from = parameters.from ?? new Date(to.getTime() - 30 * DAY_MS);
    return { from, to, groupBy: parameters.group_by };
  })
  .refine((parameters) => parameters.from < parameters.to, {
    message: "from must be before to",
    path: ["from"],
  });

export type MatrixParameters = z.output<typeof matrixParameters>;

/**
 * One row per group: completed requests are counted where they were served,
 * failed attempts where they failed, so a vendor's row shows both. Group
 * columns come from the fixed list above, never from the caller's text.
 */
export function matrixSql(groupBy: GroupKey[]): string {
  const keys = groupBy.map((key) => `${GROUP_COLUMNS[key]} AS ${key}`).join(", ");
  const groupKeys = groupBy.join(", ");
  const window =
    "occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}";
  return `
    SELECT ${keys},
      countIf(kind = 'request') AS requests,
      countIf(kind = 'request' AND status = 'success') AS succeeded,
      countIf(kind = 'attempt_failed') AS failed_attempts,
      sum(input_tokens) AS input_tokens,
      sum(output_tokens) AS output_tokens,
      toString(sum(cost_usd)) AS cost_usd,
      quantileExactIf(0.5)(latency_ms, kind = 'request') AS latency_ms_p50,
      quantileExactIf(0.95)(latency_ms, kind = 'request') AS latency_ms_p95
    FROM (
      SELECT 'request' AS kind, tenant_id, task, vendor, model, status,
             input_tokens, output_tokens, cost_usd, latency_ms
      FROM switchboard.request_completed FINAL
      WHERE ${window}
      UNION ALL
      SELECT 'attempt_failed' AS kind, tenant_id, task, vendor, model, 'failed' AS status,
             toUInt64(0), toUInt64(0), toDecimal128(0, 18), latency_ms
      FROM switchboard.attempt_failed FINAL
      WHERE ${window}
    )
    GROUP BY ${groupKeys}
    ORDER BY ${groupKeys}`;
}
