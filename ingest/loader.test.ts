import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogRecord } from "../eventlog/ports.ts";
import { topicFor } from "../events/topics.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { EventLoader } from "./loader.ts";

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
});
afterAll(() => clickhouse.close());

function record(offset: number, value: string): LogRecord {
  return {
    topic: topicFor("request_completed"),
    partition: 0,
    offset: String(offset),
    key: "k",
    value: Buffer.from(value),
  };
}

describe("EventLoader", () => {
  it("stores valid events, dead-letters the rest with their reason, and a redelivered batch adds nothing", async () => {
    const deadLetterSink = new RecordingSink();
    const loader = new EventLoader(clickhouse.client, deadLetterSink);
    const good = [
      sampleRequestCompleted({ cost_usd: "0.1", input_tokens: 5 }),
      sampleRequestCompleted({ cost_usd: "0.2", input_tokens: 7 }),
    ];
    const batch = [
      record(0, JSON.stringify(good[0])),
      record(1, "{not json"),
      record(2, JSON.stringify(good[1])),
    ];

    const stored = await loader.store(batch);
    await loader.store(batch); // the log redelivers after a crash before commit

    expect(stored).toEqual({
      rows: { route_decided: 0, attempt_failed: 0, request_completed: 2 },
      deadLetters: 1,
    });
    const totals = await queryRows<{ rows: string; cost: string; tokens: string }>(
      clickhouse.client,
      "SELECT count() AS rows, toString(sum(cost_usd)) AS cost, sum(input_tokens) AS tokens FROM switchboard.request_completed FINAL",
    );
    expect(totals).toEqual([{ rows: "2", cost: "0.3", tokens: "12" }]);

    const deadLetters = await queryRows<Record<string, unknown>>(
      clickhouse.client,
      "SELECT source_topic, source_offset, reason, payload FROM switchboard.dead_letters FINAL",
    );
    expect(deadLetters).toEqual([
      {
        source_topic: "switchboard.request_completed",
        source_offset: "1",
        reason: expect.stringMatching(/^invalid JSON/),
        payload: "{not json",
      },
    ]);
    expect(deadLetterSink.appended.map((letter) => letter.topic)).toEqual([
      "switchboard.dead_letter",
      "switchboard.dead_letter",
    ]);
    expect(deadLetterSink.flushes).toBe(2);
  });

  it("rejects the whole batch when ClickHouse refuses it, so nothing is committed", async () => {
    const broken = new EventLoader(
      { insert: async () => Promise.reject(new Error("ClickHouse is down")) } as never,
      new RecordingSink(),
    );
    await expect(
      broken.store([record(9, JSON.stringify(sampleRequestCompleted()))]),
    ).rejects.toThrow("ClickHouse is down");
  });
});
