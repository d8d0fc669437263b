// Budgets' spend survives a restart: at start, the gateway sums what
// switchboard.request_completed already holds for each budget's current
// period, grouped by key and team, and sets it as the spend so far. Events
// still in the outbox or in Kafka, not yet ingested, are not in the sum; the
// README says how exact this is.
import { parseDecimal } from "../events/money.ts";
import type { BudgetPeriod, Budgets } from "./budgets.ts";
import { periodBounds } from "./budgets.ts";

/** The one ClickHouse call seeding needs, so the gateway does not import clickhouse/. */
export interface SpendQueryClient {
  query(params: {
    query: string;
    query_params?: Record<string, unknown>;
    format: "JSONEachRow";
  }): Promise<{ json<T>(): Promise<T[]> }>;
}

interface SpendRow {
  key_id: string;
  team: string;
  cost_usd: string;
  tokens: string;
}

/** `YYYY-MM-DD hh:mm:ss.sss`: chDB drops the milliseconds of a JS Date parameter. */
function clickhouseTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace("T", " ").replace("Z", "");
}

/**
 * Sums cost_usd and input + output tokens of each key and team since the
 * start of the current day and month (UTC), one query per period a budget
 * uses, and seeds the budgets with them. Rows are read with FINAL, so a
 * duplicate the raw table has not merged yet counts once.
 */
export async function seedBudgets(
  budgets: Budgets,
  clickhouse: SpendQueryClient,
  now: number = Date.now(),
): Promise<{ period: BudgetPeriod; periodStart: number; groups: number }[]> {
  const periods = [...new Set(budgets.all.map((state) => state.config.period))];
  const seeded: { period: BudgetPeriod; periodStart: number; groups: number }[] = [];
  for (const period of periods) {
    const { start, end } = periodBounds(period, now);
    const result = await clickhouse.query({
      query: `SELECT key_id, team, toString(sum(cost_usd)) AS cost_usd,
                     toString(sum(input_tokens + output_tokens)) AS tokens
              FROM switchboard.request_completed FINAL
              WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
              GROUP BY key_id, team`,
      query_params: { from: clickhouseTime(start), to: clickhouseTime(end) },
      format: "JSONEachRow",
    });
    const rows = (await result.json<SpendRow>()).map((row) => ({
      keyId: row.key_id,
      team: row.team,
      costScaled: parseDecimal(row.cost_usd),
      tokens: BigInt(row.tokens),
    }));
    budgets.seed(period, start, rows);
    seeded.push({ period, periodStart: start, groups: rows.length });
  }
  return seeded;
}
