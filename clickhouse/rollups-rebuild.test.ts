// 0009_rollups_by_team.sql rebuilds the four usage rollups with team and the
// list-price sums: events stored before it must be folded in from the raw
// tables, each once, and events stored after it must reach all four through
// the new views; after 0010, failed attempts count under their team.
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toRow } from "../ingest/rows.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { MIGRATIONS_DIRECTORY, migrate } from "./migrate.ts";

let clickhouse: TestClickHouse;
let before0009: string;

beforeAll(async () => {
  // A database migrated up to 0008 only, as one deployed before this change.
  before0009 = mkdtempSync(join(tmpdir(), "migrations-"));
  for (const name of readdirSync(MIGRATIONS_DIRECTORY)) {
    if (name < "0009") cpSync(new URL(name, MIGRATIONS_DIRECTORY), join(before0009, name));
  }
  clickhouse = await freshClickHouse(pathToFileURL(`${before0009}/`));
});
afterAll(async () => {
  await clickhouse.close();
  rmSync(before0009, { recursive: true, force: true });
});

const ROLLUPS = [
  ["usage_hourly", "tenant_id"],
  ["usage_daily", "tenant_id"],
  ["usage_hourly_all_tenants", "''"],
  ["usage_daily_all_tenants", "''"],
] as const;

async function rollupByTeam(table: string, tenant: string, team = "team") {
  return queryRows<Record<string, string>>(
    clickhouse.client,
    `SELECT ${tenant} AS tenant, ${team} AS team, countMerge(requests) AS requests,
            countMerge(failed_attempts) AS failed_attempts,
            countMerge(unpriced_requests) AS unpriced,
            toString(sumMerge(cost_usd)) AS cost, toString(sumMerge(list_cost_usd)) AS list,
            sumMerge(reasoning_tokens) AS reasoning
     FROM switchboard.${table} GROUP BY tenant, team ORDER BY tenant, team`,
  );
}

describe("0009: the rollups rebuilt by team", () => {
  it("folds in the events stored before it, and the new views take the ones after", async () => {
    // Requests as the ingest of the day stored them: request_completed had no
    // finish reasons before 0013, and no service tier before 0014.
    const before0013 = [
      sampleRequestCompleted({
        request_id: "a",
        team: "search",
        cost_usd: "0.1",
        list_cost_usd: "0.125",
        reasoning_tokens: 3,
      }),
      sampleRequestCompleted({
        request_id: "b",
        occurred_at: "2026-11-21T08:00:00.000Z",
        team: null,
        price_known: false,
        cost_usd: "0",
        list_cost_usd: "0",
      }),
    ].map((event) => {
      const {
        finish_reason: _finish,
        vendor_finish_reason: _vendorFinish,
        service_tier: _tier,
        vendor_service_tier: _vendorTier,
        ...row
      } = toRow(event);
      return row;
    });
    await clickhouse.client.insert({
      table: "switchboard.request_completed",
      values: before0013,
      format: "JSONEachRow",
    });
    // A failed attempt as the ingest of the day stored it: attempt_failed had
    // no key, team or tags before 0010.
    const {
      key_id: _key,
      team: _team,
      tags: _tags,
      ...attemptBefore0010
    } = toRow(sampleAttemptFailed({ request_id: "a", team: "search" }));
    await clickhouse.client.insert({
      table: "switchboard.attempt_failed",
      values: [attemptBefore0010],
      format: "JSONEachRow",
    });
    // 0009, 0010, and whatever came after them.
    expect((await migrate(clickhouse.client)).slice(0, 2)).toEqual([
      "0009_rollups_by_team.sql",
      "0010_attempts_by_team.sql",
    ]);
    await loadEvents(clickhouse.client, [
      sampleAttemptFailed({ request_id: "c", team: "search" }),
      sampleRequestCompleted({
        request_id: "c",
        team: "search",
        cost_usd: "0.2",
        list_cost_usd: "0.25",
        reasoning_tokens: 4,
      }),
    ]);
    const tenant = (table: string) => (table.endsWith("all_tenants") ? "" : "acme");
    for (const [table, tenantColumn] of ROLLUPS) {
      expect(await rollupByTeam(table, tenantColumn), table).toEqual([
        {
          tenant: tenant(table),
          team: "",
          requests: "1",
          failed_attempts: "1",
          unpriced: "1",
          cost: "0",
          list: "0",
          reasoning: "0",
        },
        {
          tenant: tenant(table),
          team: "search",
          requests: "2",
          failed_attempts: "1",
          unpriced: "0",
          cost: "0.3",
          list: "0.375",
          reasoning: "7",
        },
      ]);
    }
    // 0012's per-tenant rollups without task and team fold in the same
    // events: those usage_hourly held when it ran and those after.
    for (const table of ["usage_hourly_by_tenant", "usage_daily_by_tenant"]) {
      expect(await rollupByTeam(table, "tenant_id", "''"), table).toEqual([
        {
          tenant: "acme",
          team: "",
          requests: "3",
          failed_attempts: "2",
          unpriced: "1",
          cost: "0.3",
          list: "0.375",
          reasoning: "7",
        },
      ]);
    }
  });
});
