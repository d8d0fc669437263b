import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  DroppedRecordsError,
  PartialDeliveryError,
  type PendingRecord,
  RecordBatcher,
  type RecordBatcherOptions,
} from "./record-batcher.ts";

const logger = pino({ level: "silent" });

function batcherWith(
  deliver: RecordBatcherOptions["deliver"],
  overrides: Partial<RecordBatcherOptions> = {},
): RecordBatcher {
  return new RecordBatcher({
    name: "test",
    deliver,
    lingerMilliseconds: 5,
    maxBatchRecords: 1_000,
    maxBatchBytes: 1024 * 1024,
    retryDelayMilliseconds: 10_000,
    maxBufferedRecords: Number.POSITIVE_INFINITY,
    logger,
    ...overrides,
  });
}

const record = (value: string): PendingRecord => ({ topic: "topic", key: "key", value });
const values = (records: PendingRecord[]) => records.map((pending) => pending.value);

describe("RecordBatcher", () => {
  it("sends after the linger, one batch at a time, in order", async () => {
    const delivered: string[][] = [];
    const batcher = batcherWith(async (records) => {
      delivered.push(values(records));
    });
    batcher.add(record("a"));
    batcher.add(record("b"));
    expect(delivered).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(delivered).toEqual([["a", "b"]]);
    batcher.stop();
  });

  it("sends at once when a batch is full, within the byte bound", async () => {
    const delivered: string[][] = [];
    const batcher = batcherWith(
      async (records) => {
        delivered.push(values(records));
      },
      { maxBatchRecords: 3, maxBatchBytes: 12, lingerMilliseconds: 60_000 },
    );
    for (const value of ["1111", "2222", "3333", "4444", "5555", "6666"])
      batcher.add(record(value));
    await batcher.flush();
    // key (3 bytes) + value (4 bytes) = 7 per record: one per batch under a 12-byte bound.
    expect(delivered).toEqual([["1111"], ["2222"], ["3333"], ["4444"], ["5555"], ["6666"]]);
    batcher.stop();
  });

  it("keeps failed records in order, rejects the flush, and delivers them on the next flush", async () => {
    const delivered: string[] = [];
    let failNext = true;
    const batcher = batcherWith(async (records) => {
      if (failNext) {
        failNext = false;
        throw new Error("broker down");
      }
      delivered.push(...values(records));
    });
    batcher.add(record("a"));
    batcher.add(record("b"));
    await expect(batcher.flush()).rejects.toThrow("broker down");
    batcher.add(record("c"));
    await batcher.flush();
    expect(delivered).toEqual(["a", "b", "c"]);
    batcher.stop();
  });

  it("re-queues only the undelivered part of a partial delivery", async () => {
    const delivered: string[] = [];
    let failNext = true;
    const batcher = batcherWith(async (records) => {
      if (failNext) {
        failNext = false;
        delivered.push(...values(records.slice(0, 1)));
        throw new PartialDeliveryError(records.slice(1), { cause: new Error("disk full") });
      }
      delivered.push(...values(records));
    });
    for (const value of ["a", "b", "c"]) batcher.add(record(value));
    await expect(batcher.flush()).rejects.toThrow("disk full");
    await batcher.flush();
    expect(delivered).toEqual(["a", "b", "c"]);
    batcher.stop();
  });

  it("drops the oldest waiting records past the bound and rejects flushes that covered them", async () => {
    const delivered: string[] = [];
    let openGate: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const batcher = batcherWith(
      async (records) => {
        await gate; // a broker that does not answer yet
        delivered.push(...values(records));
      },
      { maxBufferedRecords: 3, lingerMilliseconds: 1 },
    );
    batcher.add(record("a"));
    await new Promise((resolve) => setTimeout(resolve, 20)); // "a" is now in flight
    batcher.add(record("b"));
    const coveringB = batcher.flush();
    batcher.add(record("c"));
    batcher.add(record("d")); // four buffered: "b", the oldest not in flight, goes
    await expect(coveringB).rejects.toBeInstanceOf(DroppedRecordsError);
    openGate();
    await batcher.flush();
    expect(delivered).toEqual(["a", "c", "d"]);
    batcher.stop();
  });

  it("resolves a flush at once when nothing is pending", async () => {
    const batcher = batcherWith(async () => {
      throw new Error("never called");
    });
    await expect(batcher.flush()).resolves.toBeUndefined();
    batcher.stop();
  });
});
