import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { LogRecord } from "../eventlog/ports.ts";
import { DEAD_LETTER_TOPIC, topicFor } from "../events/topics.ts";
import { failingInserts } from "../test/fault/failing-clickhouse.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import type { EventDecoder } from "./event-decoder.ts";
import { EventLoader } from "./loader.ts";

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
  // A rollup like the real ones: a materialized view counts every row inserted,
  // duplicates included, so it shows whether an event ever went in twice.
  await clickhouse.client.command({
    query: `CREATE TABLE switchboard.test_rollup (tenant_id String, rows AggregateFunction(count), cost AggregateFunction(sum, Decimal(38, 18)))
            ENGINE = AggregatingMergeTree ORDER BY tenant_id`,
  });
  await clickhouse.client.command({
    query: `CREATE MATERIALIZED VIEW switchboard.test_rollup_view TO switchboard.test_rollup AS
            SELECT tenant_id, countState() AS rows, sumState(cost_usd) AS cost
            FROM switchboard.request_completed GROUP BY tenant_id`,
  });
});
afterAll(() => clickhouse.close());

let nextOffset = 0;
let tenant: string;
beforeEach(() => {
  tenant = `tenant-${nextOffset}`;
});

function record(value: string | Buffer, topic = topicFor("request_completed")): LogRecord {
  nextOffset += 1;
  return {
    topic,
    partition: 0,
    offset: String(nextOffset),
    key: "k",
    value: typeof value === "string" ? Buffer.from(value) : value,
  };
}

/** Physical rows (no FINAL: what a materialized view saw), rows after FINAL, and the rollup. */
async function countsFor(tenantId: string) {
  const [physical] = await queryRows<{ rows: string; cost: string }>(
    clickhouse.client,
    "SELECT count() AS rows, toString(sum(cost_usd)) AS cost FROM switchboard.request_completed WHERE tenant_id = {tenant:String}",
    { tenant: tenantId },
  );
  const [final] = await queryRows<{ rows: string }>(
    clickhouse.client,
    "SELECT count() AS rows FROM switchboard.request_completed FINAL WHERE tenant_id = {tenant:String}",
    { tenant: tenantId },
  );
  const [rollup] = await queryRows<{ rows: string; cost: string }>(
    clickhouse.client,
    "SELECT countMerge(rows) AS rows, toString(sumMerge(cost)) AS cost FROM switchboard.test_rollup WHERE tenant_id = {tenant:String}",
    { tenant: tenantId },
  );
  return { physical, final: final?.rows, rollup };
}

describe("EventLoader", () => {
  it("stores valid events, dead-letters the rest with their reason, and a redelivered batch adds nothing anywhere", async () => {
    const deadLetterSink = new RecordingSink();
    const loader = new EventLoader(clickhouse.client, deadLetterSink);
    const good = [
      sampleRequestCompleted({ tenant_id: tenant, cost_usd: "0.1", input_tokens: 5 }),
      sampleRequestCompleted({ tenant_id: tenant, cost_usd: "0.2", input_tokens: 7 }),
    ];
    const batch = [
      record(JSON.stringify(good[0])),
      record("{not json"),
      record(JSON.stringify(good[1])),
    ];

    const first = await loader.store(batch);
    const again = await loader.store(batch); // the log redelivers after a crash before commit

    expect(first).toMatchObject({ duplicates: 0, deadLetters: 1 });
    expect(first.rows.request_completed).toBe(2);
    expect(again).toMatchObject({ duplicates: 2, deadLetters: 1 });
    expect(again.rows.request_completed).toBe(0);
    expect(await countsFor(tenant)).toEqual({
      physical: { rows: "2", cost: "0.3" },
      final: "2",
      rollup: { rows: "2", cost: "0.3" },
    });
    const deadLetters = await queryRows<Record<string, unknown>>(
      clickhouse.client,
      "SELECT source_topic, source_partition, source_offset, reason, payload, payload_bytes FROM switchboard.dead_letters WHERE source_offset = {offset:UInt64}",
      { offset: batch[1]?.offset },
    );
    expect(deadLetters).toEqual([
      {
        source_topic: "switchboard.request_completed",
        source_partition: 0,
        source_offset: batch[1]?.offset,
        reason: expect.stringMatching(/^invalid JSON/),
        payload: "{not json",
        payload_bytes: 9,
      },
    ]);
    // The dead letter went to the topic once: the second store found it in the table.
    expect(deadLetterSink.appended).toEqual([
      {
        topic: DEAD_LETTER_TOPIC,
        key: `switchboard.request_completed:0:${batch[1]?.offset}`,
        value: expect.stringContaining('"reason":"invalid JSON'),
      },
    ]);
  });

  it("inserts an event repeated within one batch once", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink());
    const event = sampleRequestCompleted({ tenant_id: tenant, cost_usd: "1.5" });
    const stored = await loader.store([
      record(JSON.stringify(event)),
      record(JSON.stringify(event)),
    ]);
    expect(stored).toMatchObject({ duplicates: 1 });
    expect(await countsFor(tenant)).toMatchObject({
      physical: { rows: "1", cost: "1.5" },
      rollup: { rows: "1", cost: "1.5" },
    });
  });

  it("finds stored events across tenants and a wide time range (the lookup's key ranges)", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink());
    const events = Array.from({ length: 120 }, (_, index) =>
      sampleRequestCompleted({
        tenant_id: `${tenant}-${index % 60}`,
        occurred_at: new Date(
          Date.UTC(2026, index % 12, 1 + (index % 28), index % 24),
        ).toISOString(),
        cost_usd: "0.01",
      }),
    );
    const batch = events.map((event) => record(JSON.stringify(event)));
    expect((await loader.store(batch.slice(0, 70))).rows.request_completed).toBe(70);
    const rest = await loader.store(batch);
    expect(rest).toMatchObject({ duplicates: 70 });
    expect(rest.rows.request_completed).toBe(50);
  });

  it("rejects while ClickHouse refuses inserts, and the retry stores only what is missing", async () => {
    const faulty = failingInserts(clickhouse.client);
    const loader = new EventLoader(faulty.client, new RecordingSink());
    const completed = sampleRequestCompleted({ tenant_id: tenant, cost_usd: "2" });
    const failed = sampleAttemptFailed({ tenant_id: tenant });
    const batch = [
      record(JSON.stringify(failed), topicFor("attempt_failed")),
      record(JSON.stringify(completed)),
    ];
    // One table goes in, the other is refused: the batch rejects half stored.
    faulty.failNext(1, "switchboard.request_completed");
    await expect(loader.store(batch)).rejects.toThrow(/injected: connection refused/);
    const retried = await loader.store(batch);
    expect(retried).toMatchObject({ duplicates: 1 });
    expect(retried.rows).toMatchObject({ request_completed: 1, attempt_failed: 0 });
    expect(await countsFor(tenant)).toMatchObject({
      physical: { rows: "1", cost: "2" },
      rollup: { rows: "1", cost: "2" },
    });
    const [attempts] = await queryRows<{ rows: string }>(
      clickhouse.client,
      "SELECT count() AS rows FROM switchboard.attempt_failed WHERE tenant_id = {tenant:String}",
      { tenant },
    );
    expect(attempts).toEqual({ rows: "1" });
  });

  it("cuts a row ClickHouse refuses for its value out of the batch as a dead letter, and stores the rest", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink());
    // Valid for the contract (any decimal string) but too wide for Decimal(38, 18).
    const tooRich = sampleRequestCompleted({
      tenant_id: tenant,
      cost_usd: "123456789012345678901234",
    });
    const batch = Array.from({ length: 9 }, () =>
      record(JSON.stringify(sampleRequestCompleted({ tenant_id: tenant, cost_usd: "1" }))),
    );
    batch.splice(4, 0, record(JSON.stringify(tooRich)));
    const stored = await loader.store(batch);
    expect(stored.rows.request_completed).toBe(9);
    expect(stored.deadLetters).toBe(1);
    expect(await countsFor(tenant)).toMatchObject({ physical: { rows: "9", cost: "9" } });
    const [letter] = await queryRows<{ reason: string; payload: string }>(
      clickhouse.client,
      "SELECT reason, payload FROM switchboard.dead_letters WHERE source_offset = {offset:UInt64}",
      { offset: batch[4]?.offset },
    );
    expect(letter?.reason).toMatch(/^ClickHouse refused the row: .*Decimal value is too big/);
    expect(letter?.payload).toBe(JSON.stringify(tooRich));
  });

  it("holds the batch when the table itself is wrong (an unknown column), rather than dead-lettering every event", async () => {
    const withNewField: EventDecoder = {
      decode(bytes) {
        const event = JSON.parse(bytes.toString()) as {
          event_id: string;
          tenant_id: string;
          occurred_at: string;
        };
        return {
          ok: true,
          eventType: "request_completed",
          table: "switchboard.request_completed",
          row: { ...event, event_type: undefined, column_not_migrated_yet: 1 },
          eventId: event.event_id,
          tenantId: event.tenant_id,
          occurredAt: event.occurred_at,
        };
      },
    };
    const loader = new EventLoader(clickhouse.client, new RecordingSink(), {
      decoder: withNewField,
    });
    await expect(
      loader.store([record(JSON.stringify(sampleRequestCompleted({ tenant_id: tenant })))]),
    ).rejects.toThrow(/column_not_migrated_yet/);
  });

  it("keeps the exact bytes of a payload that is not UTF-8, base64-encoded", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink());
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x7d]);
    const poison = record(bytes);
    expect(await loader.store([poison])).toMatchObject({ deadLetters: 1 });
    const [letter] = await queryRows<{ reason: string; payload: string; payload_bytes: number }>(
      clickhouse.client,
      "SELECT reason, payload, payload_bytes FROM switchboard.dead_letters WHERE source_offset = {offset:UInt64}",
      { offset: poison.offset },
    );
    expect(letter?.reason).toMatch(/not UTF-8; stored base64-encoded/);
    expect(Buffer.from(letter?.payload ?? "", "base64")).toEqual(bytes);
    expect(letter?.payload_bytes).toBe(5);
  });
});
