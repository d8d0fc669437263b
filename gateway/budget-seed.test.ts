// Spend survives a restart: request_completed rows stored through ingest's own
// loader into chDB, then a new Budgets seeded from them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventTime } from "../events/ids.ts";
import { parseDecimal } from "../events/money.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { seedBudgets } from "./budget-seed.ts";
import { Budgets } from "./budgets.ts";
import { budgetConfig } from "./config.ts";
import { GatewayError } from "./errors.ts";

let clickhouse: TestClickHouse;
const NOW = Date.parse("2026-11-20T15:00:00.000Z");

const row = (when: string, keyId: string, team: string | null, cost: string, tokens: number) =>
  sampleRequestCompleted({
    occurred_at: eventTime(new Date(when)),
    key_id: keyId,
    team,
    cost_usd: cost,
    list_cost_usd: cost,
    input_tokens: tokens,
    output_tokens: 0,
  });

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  const duplicate = row("2026-11-20T09:00:00.000Z", "alice", "research", "0.25", 100);
  await loadEvents(clickhouse.client, [
    duplicate,
    row("2026-11-20T00:00:00.000Z", "alice", "research", "0.5", 1_000), // today, first ms
    row("2026-11-19T23:59:59.999Z", "alice", "research", "2", 7), // yesterday, this month
    row("2026-10-31T23:59:59.999Z", "alice", "research", "100", 9_999), // last month
    row("2026-11-20T10:00:00.000Z", "bob", "research", "0.125", 20),
    row("2026-11-02T10:00:00.000Z", "carol", null, "3", 5),
  ]);
  // The same event stored twice (ingest's lookup never does it; a raw copy stands in for
  // a duplicate the table has not merged yet): FINAL counts it once.
  await clickhouse.client.command({
    query: `INSERT INTO switchboard.request_completed
            SELECT * FROM switchboard.request_completed WHERE event_id = {id:UUID}`,
    query_params: { id: duplicate.event_id },
  });
  const stored = await queryRows<{ rows: string }>(
    clickhouse.client,
    "SELECT count() AS rows FROM switchboard.request_completed",
  );
  expect(stored).toEqual([{ rows: "7" }]);
});
afterAll(async () => {
  await clickhouse.close();
});

describe("seeding budgets from ClickHouse", () => {
  it("sums each key's and team's spend in the current UTC day and month, duplicates once", async () => {
    const budgets = new Budgets(
      [
        {
          id: "alice-day",
          scope: "key",
          scope_id: "alice",
          unit: "usd",
          period: "day",
          hard_limit: "0.75",
        },
        {
          id: "alice-month",
          scope: "key",
          scope_id: "alice",
          unit: "tokens",
          period: "month",
          soft_limit: "5000",
        },
        {
          id: "research-month",
          scope: "team",
          scope_id: "research",
          unit: "usd",
          period: "month",
          hard_limit: "10",
        },
        {
          id: "carol-day",
          scope: "key",
          scope_id: "carol",
          unit: "usd",
          period: "day",
          hard_limit: "1",
        },
      ].map((each) => budgetConfig.parse(each)),
      new RecordingSink(),
      () => NOW,
    );
    const seeded = await seedBudgets(budgets, clickhouse.client, NOW);
    expect(seeded.map((each) => each.period).sort()).toEqual(["day", "month"]);
    const spent = Object.fromEntries(budgets.all.map((state) => [state.config.id, state]));
    // Today: 0.25 (stored twice, read FINAL) + 0.5 = 0.75, exactly the hard limit.
    expect(spent["alice-day"]?.spent).toBe(parseDecimal("0.75"));
    expect(spent["alice-day"]?.hardAlerted).toBe(true);
    // This month: 100 + 1,000 + 7 tokens (input + output).
    expect(spent["alice-month"]?.spent).toBe(1_107n);
    expect(spent["alice-month"]?.softAlerted).toBe(false);
    // The team, this month: alice 0.25 + 0.5 + 2 and bob 0.125 = 2.875.
    expect(spent["research-month"]?.spent).toBe(parseDecimal("2.875"));
    expect(spent["carol-day"]?.spent).toBe(0n);

    const alice = budgets.forKey({ id: "alice", team: "research" });
    expect(() => budgets.check(alice)).toThrow(GatewayError);
    expect(() => budgets.check(budgets.forKey({ id: "bob", team: "research" }))).not.toThrow();
  });
});
