import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Registry } from "prom-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PendingRecord } from "../record-batcher.ts";
import type { RecordWriter } from "../record-writer.ts";
import { OutboxMetrics } from "./outbox-metrics.ts";
import { OutboxSink, type OutboxSinkOptions } from "./outbox-sink.ts";

// Unit tests of the outbox's routing and spool, with a stand-in for Kafka
// that can be switched off. The same sink over the real broker, stopped and
// restarted, is in test/fault/ and in the conformance suite.

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** A RecordWriter standing in for Kafka: up or down, fast or slow; keeps what it took. */
class StandInKafka implements RecordWriter {
  up = true;
  delayMilliseconds = 0;
  readonly received: PendingRecord[] = [];
  writes = 0;

  async write(records: PendingRecord[]): Promise<void> {
    this.writes += 1;
    if (this.delayMilliseconds > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.delayMilliseconds));
    }
    if (!this.up) throw new Error("stand-in Kafka is down");
    this.received.push(...records);
  }

  async close(): Promise<void> {}

  valuesOf(topic: string): string[] {
    return this.received.filter((record) => record.topic === topic).map((record) => record.value);
  }
}

let directory: string;
const opened: OutboxSink[] = [];
beforeEach(async () => {
  directory = join(await mkdtemp(join(tmpdir(), "switchboard-outbox-test-")), "gateway");
});
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((sink) => sink.close()));
  await rm(join(directory, ".."), { recursive: true, force: true });
});

async function openOutbox(primary: RecordWriter, options: Partial<OutboxSinkOptions> = {}) {
  const sink = await OutboxSink.open({
    directory,
    primary,
    logger,
    lingerMilliseconds: 1,
    retryDelayMilliseconds: 20,
    maxRetryDelayMilliseconds: 50,
    closeDrainMilliseconds: 0,
    ...options,
  });
  opened.push(sink);
  return sink;
}

async function waitUntil(condition: () => boolean, what: string, milliseconds = 10_000) {
  const deadline = Date.now() + milliseconds;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function appendNumbered(sink: OutboxSink, from: number, to: number): void {
  for (let index = from; index < to; index += 1) {
    sink.append(index % 2 === 0 ? "even" : "odd", `key-${index % 5}`, String(index));
  }
}

const numbers = (from: number, to: number, step = 1) =>
  Array.from({ length: Math.ceil((to - from) / step) }, (_, index) => String(from + index * step));

function segmentsOf(topic: string): string[] {
  const topicDirectory = join(directory, topic);
  return existsSync(topicDirectory)
    ? readdirSync(topicDirectory).filter((name) => name.endsWith(".log"))
    : [];
}

describe("OutboxSink", () => {
  it("sends straight to Kafka while it answers, and never touches the spool", async () => {
    const kafka = new StandInKafka();
    const sink = await openOutbox(kafka);
    appendNumbered(sink, 0, 100);
    await sink.flush();
    expect(kafka.valuesOf("even")).toEqual(numbers(0, 100, 2));
    expect(kafka.valuesOf("odd")).toEqual(numbers(1, 100, 2));
    expect(sink.state()).toMatchObject({ depthEvents: 0, spooling: false, spoolBytes: 0 });
    expect(segmentsOf("even")).toEqual([]);
  });

  it("spools to disk while Kafka is down (flush means on disk), then drains in order and goes direct again", async () => {
    const kafka = new StandInKafka();
    const registry = new Registry();
    const sink = await openOutbox(kafka, { metrics: OutboxMetrics.for(registry) });
    appendNumbered(sink, 0, 10);
    await sink.flush();
    kafka.up = false;
    appendNumbered(sink, 10, 500);
    // Durable in the spool: flush resolves although Kafka took nothing.
    await sink.flush();
    expect(sink.state()).toMatchObject({ spooling: true, depthEvents: 490 });
    expect(segmentsOf("even").length).toBeGreaterThan(0);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/switchboard_outbox_depth_events\{outbox="gateway"\} 490/);
    expect(metrics).toMatch(/switchboard_outbox_spooling\{outbox="gateway"\} 1/);

    kafka.up = true;
    // Published while the drain runs: they queue behind the spooled ones.
    appendNumbered(sink, 500, 600);
    await waitUntil(() => !sink.state().spooling, "the drain to empty the spool");
    appendNumbered(sink, 600, 700);
    await sink.flush();
    expect(kafka.valuesOf("even")).toEqual(numbers(0, 700, 2));
    expect(kafka.valuesOf("odd")).toEqual(numbers(1, 700, 2));
    expect(sink.state().depthEvents).toBe(0);
    const after = await registry.metrics();
    expect(after).toMatch(/switchboard_outbox_drained_events_total\{outbox="gateway"\} \d+/);
    expect(after).toMatch(/switchboard_outbox_depth_events\{outbox="gateway"\} 0/);
  });

  it("keeps spooled events across a restart and drains them first", async () => {
    const down = new StandInKafka();
    down.up = false;
    const first = await openOutbox(down);
    appendNumbered(first, 0, 300);
    await first.flush();
    expect(first.state().depthEvents).toBe(300);
    await first.close();
    opened.length = 0;

    const kafka = new StandInKafka();
    const second = await openOutbox(kafka);
    expect(second.state()).toMatchObject({ spooling: true, depthEvents: 300 });
    appendNumbered(second, 300, 400);
    await waitUntil(() => kafka.received.length >= 400, "spooled and new events in Kafka");
    await waitUntil(() => !second.state().spooling, "back to direct");
    expect(kafka.valuesOf("even")).toEqual(numbers(0, 400, 2));
    expect(kafka.valuesOf("odd")).toEqual(numbers(1, 400, 2));
  });

  it("deletes drained segments, so the spool holds only what Kafka has not taken", async () => {
    const kafka = new StandInKafka();
    kafka.up = false;
    const sink = await openOutbox(kafka, { segmentBytes: 512 });
    appendNumbered(sink, 0, 400);
    await sink.flush();
    const spooledBytes = sink.state().spoolBytes;
    expect(segmentsOf("even").length).toBeGreaterThan(3);
    kafka.up = true;
    await waitUntil(() => !sink.state().spooling, "the drain");
    // Only each topic's last (open) segment stays.
    expect(segmentsOf("even")).toHaveLength(1);
    expect(segmentsOf("odd")).toHaveLength(1);
    expect(sink.state().spoolBytes).toBeLessThan(spooledBytes / 3);
  });

  it("spills to the spool when Kafka answers but falls behind, and loses nothing", async () => {
    const kafka = new StandInKafka();
    kafka.delayMilliseconds = 30;
    const registry = new Registry();
    // 100 events every 5 ms against 50-event sends that take 30 ms: memory
    // would pass 1,000 in 50 ms without the spill.
    const sink = await openOutbox(kafka, {
      maxMemoryEvents: 1_000,
      maxBatchRecords: 50,
      metrics: OutboxMetrics.for(registry),
    });
    for (let round = 0; round < 20; round += 1) {
      appendNumbered(sink, round * 100, round * 100 + 100);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await sink.flush();
    expect(await registry.metrics()).toMatch(
      /switchboard_outbox_spooled_events_total\{outbox="gateway"\} [1-9]/,
    );
    kafka.delayMilliseconds = 0;
    await waitUntil(() => !sink.state().spooling, "the drain to empty the spool");
    // The batch in flight when memory filled was spooled too and may have
    // reached Kafka as well: at least once, duplicates for ingest to drop.
    // Without them, every event is there, in order.
    const firstOccurrences = (values: string[]) => [...new Set(values)];
    expect(firstOccurrences(kafka.valuesOf("even"))).toEqual(numbers(0, 2_000, 2));
    expect(firstOccurrences(kafka.valuesOf("odd"))).toEqual(numbers(1, 2_000, 2));
    expect(await registry.metrics()).not.toMatch(
      /switchboard_outbox_dropped_events_total\{outbox="gateway"\} [1-9]/,
    );
  });

  it("when the spool is full, holds events in memory and past that drops the oldest, counted and loud", async () => {
    const kafka = new StandInKafka();
    kafka.up = false;
    const registry = new Registry();
    const sink = await openOutbox(kafka, {
      maxSpoolBytes: 1_000,
      maxMemoryEvents: 100,
      maxBatchRecords: 10,
      metrics: OutboxMetrics.for(registry),
    });
    appendNumbered(sink, 0, 200);
    await sink.flush(); // enough to fill the 1,000-byte spool
    appendNumbered(sink, 200, 600);
    // The flush covering them fails: the spool refused them, then memory dropped some.
    await expect(sink.flush()).rejects.toThrow(/spool is full|dropped/);
    expect(sink.state()).toMatchObject({ full: true });
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/switchboard_outbox_full\{outbox="gateway"\} 1/);
    const dropped = Number(
      /switchboard_outbox_dropped_events_total\{outbox="gateway"\} (\d+)/.exec(metrics)?.[1],
    );
    expect(dropped).toBeGreaterThan(0);

    // Kafka back: the spool drains, then what memory kept; only the dropped are missing.
    kafka.up = true;
    await waitUntil(() => !sink.state().spooling && sink.state().memoryEvents === 0, "recovery");
    expect(kafka.received.length).toBe(600 - dropped);
    const even = kafka.valuesOf("even").map(Number);
    expect(even).toEqual([...even].sort((left, right) => left - right));
  });

  it("refuses a second owner of the same folder", async () => {
    await openOutbox(new StandInKafka());
    await expect(
      OutboxSink.open({ directory, primary: new StandInKafka(), logger }),
    ).rejects.toThrow(/in use by process/);
  });
});
