import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newEventId } from "../events/ids.ts";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { toRow } from "./rows.ts";
import { type EventKey, findStoredEventIds } from "./stored-event-ids.ts";

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
});
afterAll(() => clickhouse.close());

const TABLE = "switchboard.request_completed";
const key = (event: { event_id: string; tenant_id: string; occurred_at: string }): EventKey => ({
  eventId: event.event_id,
  tenantId: event.tenant_id,
  occurredAt: event.occurred_at,
});

describe("findStoredEventIds", () => {
  it("finds exactly the stored ids: at, before and after the latest stored time, per tenant", async () => {
    const at = (time: string, tenant = "a") =>
      sampleRequestCompleted({ event_id: newEventId(), tenant_id: tenant, occurred_at: time });
    const stored = [
      at("2026-11-20T10:00:00.000Z"),
      at("2026-11-20T10:00:01.500Z"),
      at("2026-11-20T10:00:01.500Z", "b"),
    ];
    await clickhouse.client.insert({
      table: TABLE,
      values: stored.map(toRow),
      format: "JSONEachRow",
    });
    const fresh = [
      at("2026-11-20T09:59:59.999Z"), // before everything stored
      at("2026-11-20T10:00:01.500Z"), // the same millisecond as the latest stored
      at("2026-11-20T10:00:01.501Z"), // after it
      at("2026-11-20T10:00:01.500Z", "c"), // a tenant with nothing stored
    ];
    const found = await findStoredEventIds(
      clickhouse.client,
      TABLE,
      [...stored, ...fresh].map(key),
    );
    expect([...found].sort()).toEqual(stored.map((event) => event.event_id).sort());
    expect(await findStoredEventIds(clickhouse.client, TABLE, fresh.map(key))).toEqual(new Set());
    expect(await findStoredEventIds(clickhouse.client, TABLE, [])).toEqual(new Set());
  });

  it("looks up more ids than fit one query", async () => {
    const events = Array.from({ length: 12_000 }, (_, index) =>
      sampleRequestCompleted({
        event_id: newEventId(),
        tenant_id: "many",
        occurred_at: new Date(Date.UTC(2026, 10, 21) + index).toISOString(),
      }),
    );
    await clickhouse.client.insert({
      table: TABLE,
      values: events.filter((_, index) => index % 3 === 0).map(toRow),
      format: "JSONEachRow",
    });
    const found = await findStoredEventIds(clickhouse.client, TABLE, events.map(key));
    expect(found.size).toBe(4_000);
    expect(events.filter((event) => found.has(event.event_id)).length).toBe(4_000);
  });
});
