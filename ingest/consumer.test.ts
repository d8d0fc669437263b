import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { LogRecord } from "../eventlog/ports.ts";
import { EVENT_TYPES } from "../events/schemas.ts";
import { storeWithRetry } from "./consumer.ts";
import { IngestMetrics } from "./ingest-metrics.ts";
import type { EventLoader, StoredBatch } from "./loader.ts";

const logger = pino({ level: "silent" });
const perEventType = (requestCompleted: number) =>
  Object.fromEntries(
    EVENT_TYPES.map((eventType) => [
      eventType,
      eventType === "request_completed" ? requestCompleted : 0,
    ]),
  ) as StoredBatch["rows"];
const stored: StoredBatch = {
  rows: perEventType(1),
  bytes: perEventType(10),
  duplicates: 0,
  deadLetters: 0,
};
const records: LogRecord[] = [
  { topic: "t", partition: 0, offset: "0", key: null, value: Buffer.from("{}") },
];

/** A loader whose store fails `failures` times, then succeeds. */
function flakyLoader(failures: number) {
  const loader = {
    calls: 0,
    async store() {
      loader.calls += 1;
      if (loader.calls <= failures) throw new Error(`ClickHouse is down (${loader.calls})`);
      return stored;
    },
  };
  return loader;
}

describe("storeWithRetry", () => {
  it("stores the same batch again with backoff until it goes in, and says so in the metrics", async () => {
    const registry = new Registry();
    const metrics = IngestMetrics.for(registry);
    const loader = flakyLoader(3);
    const handler = storeWithRetry(loader as unknown as EventLoader, {
      logger,
      metrics,
      firstRetryMilliseconds: 10,
    });
    const startedAt = Date.now();
    await handler(records, { signal: new AbortController().signal });
    expect(loader.calls).toBe(4);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(10 + 20 + 40);
    const text = await registry.metrics();
    expect(text).toMatch(/^switchboard_ingest_batch_retries_total 3$/m);
    expect(text).toMatch(/^switchboard_ingest_retrying 0$/m);
    expect(text).toMatch(
      /^switchboard_ingest_rows_inserted_total\{table="switchboard.request_completed"\} 1$/m,
    );
  });

  it("gives up at once, without storing, when the batch's signal aborts during a wait", async () => {
    const loader = flakyLoader(Number.POSITIVE_INFINITY);
    const handler = storeWithRetry(loader as unknown as EventLoader, {
      logger,
      firstRetryMilliseconds: 60_000,
    });
    const abort = new AbortController();
    const handling = handler(records, { signal: abort.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const abortedAt = Date.now();
    abort.abort();
    await expect(handling).rejects.toThrow(/stopped while retrying a batch; it was not committed/);
    expect(Date.now() - abortedAt).toBeLessThan(100);
    expect(loader.calls).toBe(1);
  });
});
