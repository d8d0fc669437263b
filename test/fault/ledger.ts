// The reconciliation every fault test ends with: what the gateway served,
// against what ClickHouse holds.
import { expect } from "vitest";
import type { ClickHouseClient } from "../../clickhouse/client.ts";
import { formatDecimal, parseDecimal } from "../../events/money.ts";
import { queryRows } from "../fixtures/clickhouse.ts";
import type { Served } from "./harness.ts";

/** The events the gateway owes the ledger for what it served: one decision and one completion each, one failure per extra attempt. */
export function owedEvents(served: Served[]) {
  return {
    route_decided: served.length,
    request_completed: served.length,
    attempt_failed: served.reduce((sum, one) => sum + one.attempts - 1, 0),
    cost: formatDecimal(served.reduce((sum, one) => sum + parseDecimal(one.costUsd), 0n)),
  };
}

export interface LedgerCounts {
  /** Physical rows, no FINAL: what a materialized view saw. */
  rows: { route_decided: number; request_completed: number; attempt_failed: number };
  /** Distinct event ids per table. */
  distinct: { route_decided: number; request_completed: number; attempt_failed: number };
  /** request_completed rows after FINAL. */
  final: number;
  /** sum(cost_usd) over the physical rows. */
  cost: string;
}

export async function ledgerCounts(
  client: ClickHouseClient,
  tenant: string,
): Promise<LedgerCounts> {
  const counts: Partial<LedgerCounts> = { rows: {} as never, distinct: {} as never };
  for (const table of ["route_decided", "request_completed", "attempt_failed"] as const) {
    const [row] = await queryRows<{ rows: string; distinct: string }>(
      client,
      `SELECT count() AS rows, uniqExact(event_id) AS distinct FROM switchboard.${table} WHERE tenant_id = {tenant:String}`,
      { tenant },
    );
    (counts.rows as Record<string, number>)[table] = Number(row?.rows);
    (counts.distinct as Record<string, number>)[table] = Number(row?.distinct);
  }
  const [final] = await queryRows<{ rows: string }>(
    client,
    "SELECT count() AS rows FROM switchboard.request_completed FINAL WHERE tenant_id = {tenant:String}",
    { tenant },
  );
  const [cost] = await queryRows<{ cost: string }>(
    client,
    "SELECT toString(sum(cost_usd)) AS cost FROM switchboard.request_completed WHERE tenant_id = {tenant:String}",
    { tenant },
  );
  counts.final = Number(final?.rows);
  counts.cost = cost?.cost ?? "0";
  return counts as LedgerCounts;
}

/** Polls until the ledger holds at least what is owed (or the time is up), then returns the counts. */
export async function waitForLedger(
  client: ClickHouseClient,
  tenant: string,
  served: Served[],
  milliseconds = 30_000,
): Promise<LedgerCounts> {
  const owed = owedEvents(served);
  const deadline = Date.now() + milliseconds;
  for (;;) {
    const counts = await ledgerCounts(client, tenant);
    const complete =
      counts.rows.route_decided >= owed.route_decided &&
      counts.rows.request_completed >= owed.request_completed &&
      counts.rows.attempt_failed >= owed.attempt_failed;
    if (complete || Date.now() > deadline) return counts;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The reconciliation every fault test ends with: every event the gateway
 * owes for what it served is in ClickHouse exactly once. Counted on the
 * physical rows (no FINAL, as a rollup sees them), equal to the distinct ids
 * and to the count after FINAL; and the sum of cost equals, to the last
 * decimal, what the gateway told the client.
 */
export function expectExactlyOnce(counts: LedgerCounts, served: Served[]): void {
  const owed = owedEvents(served);
  const expected = {
    route_decided: owed.route_decided,
    request_completed: owed.request_completed,
    attempt_failed: owed.attempt_failed,
  };
  expect(counts.rows).toEqual(expected);
  expect(counts.distinct).toEqual(expected);
  expect(counts.final).toBe(owed.request_completed);
  expect(counts.cost).toBe(owed.cost);
}
