// One suite run against every EventSink/EventSource adapter: the local segment
// log and Kafka (a real broker, started by test/global-setup.ts). Then the
// local log's own crash, restart and rolling behaviour.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import {
  type EventLogOptions,
  ensureTopics,
  LocalLogSink,
  type LocalLogSinkOptions,
  LocalLogSource,
  type LocalLogSourceOptions,
  openEventLog,
  switchboardTopics,
} from "../../eventlog/index.ts";
import type { EventSink, EventSource, LogRecord } from "../../eventlog/ports.ts";
import { eventTime } from "../../events/ids.ts";
import {
  type AttemptFailed,
  attemptFailedV3,
  requestCompletedV4,
  type SwitchboardEvent,
} from "../../events/schemas.ts";
import { topicFor } from "../../events/topics.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../fixtures/sample-events.ts";

const WAIT_MILLISECONDS = 20_000;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

/** What a test needs from an adapter; every sink and source it makes is closed after the test. */
interface EventLogUnderTest {
  createSink(): Promise<EventSink>;
  createSource(group: string, topics: string[]): Promise<EventSource>;
  /** Fresh topics that exist (Kafka: created with 3 partitions) and no other test uses. */
  newTopics(count: number): Promise<string[]>;
  /** Makes sure the topics `publish` writes to exist. */
  prepareEventTopics(): Promise<void>;
  /** True when a topic has one partition, so offsets are exactly 0, 1, 2, … */
  singlePartition: boolean;
  cleanUp(): Promise<void>;
}

interface Closable {
  close(): Promise<void>;
}

function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** How the log under test batches records for a source's handler. */
type Batching = EventLogOptions["batching"];

async function openLocal(batching?: Batching): Promise<EventLogUnderTest> {
  const directory = await mkdtemp(join(tmpdir(), "switchboard-eventlog-"));
  const eventLog = openEventLog({ localDirectory: directory, logger, batching });
  expect(eventLog.kind).toBe("local");
  const opened: Closable[] = [];
  return {
    singlePartition: true,
    async createSink() {
      const sink = await eventLog.createSink();
      opened.push(sink);
      return sink;
    },
    async createSource(group, topics) {
      const source = await eventLog.createSource(group, topics);
      opened.push(source);
      return source;
    },
    async newTopics(count) {
      return Array.from({ length: count }, () => uniqueName("conformance"));
    },
    async prepareEventTopics() {},
    async cleanUp() {
      await closeAll(opened);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function sharedBrokers(): string {
  const brokers = inject("kafkaBrokers");
  // Never a skip: without a broker the Kafka half of the suite fails.
  if (!brokers) {
    throw new Error(
      "no Kafka broker: test/global-setup.ts provides one (UNIT_ONLY=1 leaves it out)",
    );
  }
  return brokers;
}

async function openKafka(batching?: Batching): Promise<EventLogUnderTest> {
  return openKafkaWith(batching, undefined);
}

/** Kafka as the gateway writes it: every sink is an OutboxSink over the real broker. */
async function openKafkaBehindOutbox(batching?: Batching): Promise<EventLogUnderTest> {
  return openKafkaWith(batching, await mkdtemp(join(tmpdir(), "switchboard-outbox-")));
}

async function openKafkaWith(
  batching: Batching,
  outboxDirectory: string | undefined,
): Promise<EventLogUnderTest> {
  const brokers = sharedBrokers();
  // The local directory must go unused when brokers are given.
  const eventLog = openEventLog({
    kafkaBrokers: brokers,
    localDirectory: "/nonexistent",
    outboxDirectory,
    clientId: "switchboard-conformance",
    logger,
    batching,
    // Fast rebalances for the tests that make one.
    kafka: { heartbeatIntervalMilliseconds: 500 },
  });
  expect(eventLog.kind).toBe("kafka");
  const opened: Closable[] = [];
  let sinks = 0;
  return {
    singlePartition: false,
    async createSink() {
      sinks += 1;
      const sink = await eventLog.createSink(
        outboxDirectory === undefined ? {} : { outbox: `sink-${sinks}` },
      );
      opened.push(sink);
      return sink;
    },
    async createSource(group, topics) {
      const source = await eventLog.createSource(group, topics);
      opened.push(source);
      return source;
    },
    async newTopics(count) {
      const topics = Array.from({ length: count }, () => uniqueName("conformance"));
      expect(await ensureTopics(brokers, { topics, partitions: 3, logger })).toEqual(topics);
      // Idempotent: a second call finds them all and creates nothing.
      expect(await ensureTopics(brokers, { topics, logger })).toEqual([]);
      return topics;
    },
    async prepareEventTopics() {
      await ensureTopics(brokers, { logger });
    },
    async cleanUp() {
      await closeAll(opened);
      if (outboxDirectory !== undefined)
        await rm(outboxDirectory, { recursive: true, force: true });
    },
  };
}

async function closeAll(opened: Closable[]): Promise<void> {
  // Sources first, sinks after; a close that fails must not keep the others open.
  const results = await Promise.allSettled(opened.reverse().map((item) => item.close()));
  opened.length = 0;
  for (const result of results) {
    if (result.status === "rejected") throw result.reason;
  }
}

/** Resolves with the promise's value or rejects after `milliseconds`, naming what was awaited. */
async function within<T>(promise: Promise<T>, what: string, milliseconds = WAIT_MILLISECONDS) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${milliseconds} ms: ${what}`)),
      milliseconds,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MILLISECONDS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MILLISECONDS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Runs a source until it has handed over at least `count` records (every
 * handler call resolving), closes it and checks that `start` resolved.
 */
async function consume(source: EventSource, count: number): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  let failure: unknown;
  const started = source.start(async (batch) => {
    records.push(...batch);
  });
  started.catch((error: unknown) => {
    failure = error;
  });
  await waitUntil(() => records.length >= count || failure !== undefined, `${count} records`);
  if (failure !== undefined) throw failure;
  await within(source.close(), "source.close()");
  await within(started, "start() to settle after close()");
  return records;
}

interface ExpectedRecord {
  topic: string;
  key: string;
  value: string;
}

/**
 * Every expected record arrived once, with its topic, key and exact bytes;
 * records of one key keep their order; offsets rise within each partition.
 */
function expectDelivered(
  records: LogRecord[],
  expected: ExpectedRecord[],
  singlePartition: boolean,
): void {
  expect(records).toHaveLength(expected.length);
  const sequence = (record: { topic: string; key: string | null }) =>
    JSON.stringify([record.topic, record.key]);
  const expectedValues = new Map<string, Buffer[]>();
  for (const record of expected) {
    const values = expectedValues.get(sequence(record)) ?? [];
    values.push(Buffer.from(record.value, "utf8"));
    expectedValues.set(sequence(record), values);
  }
  const actualValues = new Map<string, Buffer[]>();
  const partitionsOfKey = new Map<string, Set<number>>();
  const lastOffsets = new Map<string, bigint>();
  for (const record of records) {
    expect(Buffer.isBuffer(record.value)).toBe(true);
    const values = actualValues.get(sequence(record)) ?? [];
    values.push(Buffer.from(record.value));
    actualValues.set(sequence(record), values);
    const partitions = partitionsOfKey.get(sequence(record)) ?? new Set();
    partitions.add(record.partition);
    partitionsOfKey.set(sequence(record), partitions);
    const partitionKey = `${record.topic}/${record.partition}`;
    const offset = BigInt(record.offset);
    const previous = lastOffsets.get(partitionKey);
    if (previous !== undefined) expect(offset).toBeGreaterThan(previous);
    lastOffsets.set(partitionKey, offset);
  }
  expect(actualValues).toEqual(expectedValues);
  for (const partitions of partitionsOfKey.values()) expect(partitions.size).toBe(1);
  if (singlePartition) {
    for (const topic of new Set(expected.map((record) => record.topic))) {
      const offsets = records
        .filter((record) => record.topic === topic)
        .map((record) => record.offset);
      expect(offsets).toEqual(offsets.map((_, index) => String(index)));
      expect(
        records
          .filter((record) => record.topic === topic)
          .every((record) => record.partition === 0),
      ).toBe(true);
    }
  }
}

/** Values that would break a naive line format: newlines, tabs, backslashes, non-ASCII. */
function awkwardRecords(topics: string[], count: number): ExpectedRecord[] {
  const values = [
    '{"plain":true}',
    '{"text":"line one\nline two"}',
    '{"escaped":"already \\n escaped \\\\ twice"}',
    "tab\there, backslash at the end \\",
    "ünïcödé ✓ 日本語 🚀",
    "",
    "\\n\\t\\\\",
  ];
  const keys = ["request-1", "request-2", "key\twith\ttabs", "key\nwith newline\\"];
  return Array.from({ length: count }, (_, index) => ({
    topic: topics[index % topics.length] as string,
    key: keys[index % keys.length] as string,
    value: `${values[index % values.length]} #${index}`,
  }));
}

/**
 * The event id in a record, or undefined. The shared event topics also hold
 * other tests' records, poison ones among them (the e2e scenario writes a
 * cut-off JSON on purpose): they must not stop this reader.
 */
function eventIdOf(record: LogRecord): string | undefined {
  try {
    return (JSON.parse(record.value.toString("utf8")) as { event_id?: string }).event_id;
  } catch {
    return undefined;
  }
}

function validEvents(count: number): SwitchboardEvent[] {
  return Array.from({ length: count }, (_, index) => {
    const requestId = uniqueName(`request-${index % 5}`);
    if (index % 3 === 0) {
      const failed: AttemptFailed = sampleAttemptFailed({
        occurred_at: eventTime(),
        tenant_id: "acme",
        request_id: requestId,
        task: "general",
        request_model: "fast",
        vendor: "alpha",
        model: "sim-small",
        attempt: 1,
        streamed: false,
        error_class: "rate_limited",
        error_code: "upstream_rate_limited",
        http_status: 429,
        latency_ms: 7,
      });
      return attemptFailedV3.parse(failed);
    }
    return requestCompletedV4.parse(
      sampleRequestCompleted({ request_id: requestId, output_tokens: index }),
    );
  });
}

const adapters = [
  { name: "local segment log", open: openLocal },
  { name: "kafka", open: openKafka },
  { name: "kafka behind the outbox", open: openKafkaBehindOutbox },
];

describe.each(adapters)("event log conformance: $name", ({ open }) => {
  let log: EventLogUnderTest;
  beforeEach(async () => {
    log = await open();
  });
  afterEach(async () => {
    await log.cleanUp();
  });

  it("delivers every published event with its topic, request id key and exact JSON bytes", async () => {
    await log.prepareEventTopics();
    const events = validEvents(60);
    const sink = await log.createSink();
    for (const event of events) sink.publish(event);
    await within(sink.flush(), "sink.flush()");

    const topics = [...new Set(events.map((event) => topicFor(event.event_type)))];
    expect(switchboardTopics()).toEqual(expect.arrayContaining(topics));
    const ours = new Set(events.map((event) => event.event_id));
    // The shared event topics may hold other tests' events: keep ours only.
    const records: LogRecord[] = [];
    const source = await log.createSource(uniqueName("group"), topics);
    const started = source.start(async (batch) => {
      for (const record of batch) {
        if (ours.has(eventIdOf(record) ?? "")) records.push(record);
      }
    });
    await waitUntil(() => records.length >= events.length, "all published events");
    await within(source.close(), "source.close()");
    await within(started, "start() to settle");

    expectDelivered(
      records,
      events.map((event) => ({
        topic: topicFor(event.event_type),
        key: event.request_id,
        value: JSON.stringify(event),
      })),
      false,
    );
  });

  it("delivers appended records exactly, in order per key, with rising offsets", async () => {
    const topics = await log.newTopics(2);
    const expected = awkwardRecords(topics, 500);
    const sink = await log.createSink();
    for (const record of expected.slice(0, 250))
      sink.append(record.topic, record.key, record.value);
    await within(sink.flush(), "first flush");
    for (const record of expected.slice(250)) sink.append(record.topic, record.key, record.value);
    await within(sink.flush(), "second flush");

    const records = await consume(
      await log.createSource(uniqueName("group"), topics),
      expected.length,
    );
    expectDelivered(records, expected, log.singlePartition);
  });

  it("redelivers a batch whose handler rejected to the next source of the group", async () => {
    const [topic] = await log.newTopics(1);
    const expected = awkwardRecords([topic as string], 40);
    const sink = await log.createSink();
    for (const record of expected) sink.append(record.topic, record.key, record.value);
    await within(sink.flush(), "sink.flush()");
    const group = uniqueName("group");

    const failing = await log.createSource(group, [topic as string]);
    const storageDown = new Error("storage is down");
    let handlerCalls = 0;
    const failed = failing.start(async () => {
      handlerCalls += 1;
      throw storageDown;
    });
    await expect(within(failed, "start() to reject")).rejects.toBe(storageDown);
    expect(handlerCalls).toBe(1);

    const records = await consume(
      await log.createSource(group, [topic as string]),
      expected.length,
    );
    expectDelivered(records, expected, log.singlePartition);
  });

  it("gives the next source of the group only records after the committed ones", async () => {
    const [topic] = await log.newTopics(1);
    const all = awkwardRecords([topic as string], 60);
    const sink = await log.createSink();
    const group = uniqueName("group");
    for (const record of all.slice(0, 30)) sink.append(record.topic, record.key, record.value);
    await within(sink.flush(), "first flush");
    const first = await consume(await log.createSource(group, [topic as string]), 30);
    expectDelivered(first, all.slice(0, 30), log.singlePartition);

    for (const record of all.slice(30)) sink.append(record.topic, record.key, record.value);
    await within(sink.flush(), "second flush");
    const second = await consume(await log.createSource(group, [topic as string]), 30);
    expect(second).toHaveLength(30);
    expect(second.map((record) => record.value.toString("utf8")).sort()).toEqual(
      all
        .slice(30)
        .map((record) => record.value)
        .sort(),
    );
    if (log.singlePartition) {
      expect(second.map((record) => record.offset)).toEqual(
        Array.from({ length: 30 }, (_, index) => String(30 + index)),
      );
    }
  });

  it("hands the handler batches within the record and byte bounds, and every record once", async () => {
    await log.cleanUp();
    log = await open({ maxBatchRecords: 7, maxBatchBytes: 400, maxBatchWaitMilliseconds: 50 });
    const [topic] = await log.newTopics(1);
    const expected = awkwardRecords([topic as string], 120);
    const sink = await log.createSink();
    for (const record of expected) sink.append(record.topic, record.key, record.value);
    await within(sink.flush(), "sink.flush()");
    const sizes: { records: number; bytes: number }[] = [];
    const records: LogRecord[] = [];
    const source = await log.createSource(uniqueName("group"), [topic as string]);
    const started = source.start(async (batch) => {
      sizes.push({
        records: batch.length,
        bytes: batch.reduce((sum, record) => sum + record.value.length, 0),
      });
      records.push(...batch);
    });
    await waitUntil(() => records.length >= expected.length, "every record");
    await within(source.close(), "source.close()");
    await within(started, "start() to settle");
    expectDelivered(records, expected, log.singlePartition);
    for (const size of sizes) {
      expect(size.records).toBeLessThanOrEqual(7);
      // One record over the byte bound may go alone; none of ours is that big.
      expect(size.bytes).toBeLessThanOrEqual(400);
    }
  });

  it("stops a handler's retries when close() aborts its batch, commits nothing, and redelivers it", async () => {
    const [topic] = await log.newTopics(1);
    const expected = awkwardRecords([topic as string], 30);
    const sink = await log.createSink();
    for (const record of expected) sink.append(record.topic, record.key, record.value);
    await within(sink.flush(), "sink.flush()");
    const group = uniqueName("group");

    const stuck = await log.createSource(group, [topic as string]);
    let handed = 0;
    const started = stuck.start(
      (batch, { signal }) =>
        // A handler retrying a store that never succeeds, until told to give up.
        new Promise<void>((_, reject) => {
          handed += batch.length;
          signal.addEventListener("abort", () => reject(new Error("given up")), { once: true });
        }),
    );
    await waitUntil(() => handed > 0, "a batch in the handler");
    const closedAt = Date.now();
    await within(stuck.close(), "close() during the handler", 5_000);
    expect(Date.now() - closedAt).toBeLessThan(5_000);
    // A batch given up on close is not a failure of the source.
    await expect(within(started, "start() to settle")).resolves.toBeUndefined();

    const records = await consume(await log.createSource(group, [topic as string]), 30);
    expectDelivered(records, expected, log.singlePartition);
  });

  it("reports the group's lag until it commits", async () => {
    const [topic] = await log.newTopics(1);
    const sink = await log.createSink();
    for (const record of awkwardRecords([topic as string], 12)) {
      sink.append(record.topic, record.key, record.value);
    }
    await within(sink.flush(), "sink.flush()");
    const group = uniqueName("group");
    const source = await log.createSource(group, [topic as string]);
    const totalLag = async () =>
      (await source.lag())
        .filter((entry) => entry.topic === topic)
        .reduce((sum, entry) => sum + entry.lag, 0);
    expect(await totalLag()).toBe(12);
    const records = await consume(source, 12);
    expect(records).toHaveLength(12);
    const after = await log.createSource(group, [topic as string]);
    expect(
      (await after.lag())
        .filter((entry) => entry.topic === topic)
        .every((entry) => entry.lag === 0),
    ).toBe(true);
    await after.close();
  });

  it("settles start() when close() is called on an idle source", async () => {
    const [topic] = await log.newTopics(1);
    const source = await log.createSource(uniqueName("group"), [topic as string]);
    let handlerCalls = 0;
    const started = source.start(async () => {
      handlerCalls += 1;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await within(source.close(), "source.close()");
    await expect(within(started, "start() to settle")).resolves.toBeUndefined();
    expect(handlerCalls).toBe(0);
  });

  it("resolves flush() with nothing buffered and refuses appends after close()", async () => {
    const [topic] = await log.newTopics(1);
    const sink = await log.createSink();
    await within(sink.flush(), "empty flush");
    sink.append(topic as string, "key", "value");
    await within(sink.close(), "sink.close() flushing one record");
    expect(() => sink.append(topic as string, "key", "value")).toThrow(/closed/);
    const records = await consume(
      await log.createSource(uniqueName("group"), [topic as string]),
      1,
    );
    expect(records.map((record) => record.value.toString())).toEqual(["value"]);
  });
});

describe("local segment log", () => {
  let directory: string;
  const opened: Closable[] = [];
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), "switchboard-local-log-"));
  });
  afterEach(async () => {
    await closeAll(opened);
    await rm(directory, { recursive: true, force: true });
  });

  async function openSink(options: Omit<LocalLogSinkOptions, "directory"> = {}) {
    const sink = await LocalLogSink.open({ directory, logger, ...options });
    opened.push(sink);
    return sink;
  }

  function openSource(options: Omit<LocalLogSourceOptions, "directory">) {
    const source = new LocalLogSource({ directory, logger, ...options });
    opened.push(source);
    return source;
  }

  function appendNumbered(sink: EventSink, topic: string, from: number, to: number): void {
    for (let index = from; index < to; index += 1) {
      sink.append(topic, `key-${index % 7}`, JSON.stringify({ index }));
    }
  }

  const indexesOf = (records: LogRecord[]) =>
    records.map((record) => (JSON.parse(record.value.toString()) as { index: number }).index);

  it("writes the documented line format", async () => {
    const sink = await openSink();
    sink.append("format", "key\twith tab", '{"a":"line\nbreak","b":"back\\\\slash"}');
    await sink.flush();
    const segment = readFileSync(join(directory, "format", "00000000000000000000.log"), "utf8");
    expect(segment).toBe('key\\twith tab\t{"a":"line\\nbreak","b":"back\\\\\\\\slash"}\n');
  });

  it("resumes exactly after the last committed batch when restarted", async () => {
    const sink = await openSink();
    appendNumbered(sink, "restart", 0, 95);
    await sink.flush();

    const firstReader = openSource({ topics: ["restart"], group: "ingest", maxBatchRecords: 10 });
    const handled: number[] = [];
    let batches = 0;
    const crashed = new Error("crash during the fourth batch");
    const firstRun = firstReader.start(async (records) => {
      batches += 1;
      expect(records.length).toBeLessThanOrEqual(10);
      if (batches === 4) throw crashed;
      handled.push(...indexesOf(records));
    });
    await expect(within(firstRun, "first reader to fail")).rejects.toBe(crashed);
    expect(handled).toEqual(Array.from({ length: 30 }, (_, index) => index));
    const position = JSON.parse(
      readFileSync(join(directory, "restart", ".consumers", "ingest"), "utf8"),
    ) as { next_offset: number };
    expect(position.next_offset).toBe(30);

    const secondReader = openSource({ topics: ["restart"], group: "ingest", maxBatchRecords: 10 });
    const rest = await consume(secondReader, 65);
    expect(indexesOf(rest)).toEqual(Array.from({ length: 65 }, (_, index) => 30 + index));
    expect(rest[0]?.offset).toBe("30");

    // Another group has its own position, from the start.
    const otherGroup = await consume(openSource({ topics: ["restart"], group: "audit" }), 95);
    expect(indexesOf(otherGroup)).toHaveLength(95);
  });

  it("cuts off a torn last line on open and continues the offsets", async () => {
    const first = await openSink();
    appendNumbered(first, "torn", 0, 10);
    await first.close();
    opened.length = 0;
    const segment = join(directory, "torn", "00000000000000000000.log");
    const intact = readFileSync(segment);
    // What a crash in the middle of a write leaves: a line without its LF.
    appendFileSync(segment, 'key-torn\t{"index":99,"half wri');

    // A reader meanwhile sees the complete lines only.
    const early = await consume(openSource({ topics: ["torn"], group: "early" }), 10);
    expect(indexesOf(early)).toEqual(Array.from({ length: 10 }, (_, index) => index));

    const second = await openSink();
    expect(readFileSync(segment)).toEqual(intact);
    appendNumbered(second, "torn", 10, 15);
    await second.flush();
    const records = await consume(openSource({ topics: ["torn"], group: "late" }), 15);
    expect(indexesOf(records)).toEqual(Array.from({ length: 15 }, (_, index) => index));
    expect(records.map((record) => record.offset)).toEqual(
      Array.from({ length: 15 }, (_, index) => String(index)),
    );
    // The early group resumes after its 10 records, not inside the torn bytes.
    const resumed = await consume(openSource({ topics: ["torn"], group: "early" }), 5);
    expect(indexesOf(resumed)).toEqual([10, 11, 12, 13, 14]);
  });

  it("rolls segments past the size and keeps offsets continuous across files", async () => {
    const sink = await openSink({ segmentBytes: 200 });
    appendNumbered(sink, "rolling", 0, 40);
    await sink.flush();
    appendNumbered(sink, "rolling", 40, 60);
    await sink.close();
    opened.length = 0;

    const names = readdirSync(join(directory, "rolling"))
      .filter((name) => name.endsWith(".log"))
      .sort();
    expect(names.length).toBeGreaterThan(5);
    let expectedFirstOffset = 0;
    for (const name of names) {
      expect(name).toBe(`${String(expectedFirstOffset).padStart(20, "0")}.log`);
      const text = readFileSync(join(directory, "rolling", name), "utf8");
      // Every segment but one holding a single oversized line stays within the size.
      expect(text.length <= 200 || text.split("\n").length === 2).toBe(true);
      expectedFirstOffset += text.split("\n").length - 1;
    }
    expect(expectedFirstOffset).toBe(60);

    // A reopened writer continues in the last segment.
    const reopened = await openSink({ segmentBytes: 200 });
    appendNumbered(reopened, "rolling", 60, 70);
    await reopened.flush();
    const records = await consume(
      openSource({ topics: ["rolling"], group: "all", maxBatchRecords: 7 }),
      70,
    );
    expect(records.map((record) => record.offset)).toEqual(
      Array.from({ length: 70 }, (_, index) => String(index)),
    );
    expect(indexesOf(records)).toEqual(Array.from({ length: 70 }, (_, index) => index));

    // A reader that starts in the middle finds its segment.
    const middle = openSource({ topics: ["rolling"], group: "middle" });
    writeFileSync(join(directory, "rolling", ".consumers", "middle"), '{"next_offset":33}\n');
    const tail = await consume(middle, 37);
    expect(tail[0]?.offset).toBe("33");
    expect(indexesOf(tail)).toEqual(Array.from({ length: 37 }, (_, index) => 33 + index));
  });

  it("follows a writer in the same process that keeps appending and rolling", async () => {
    const sink = await openSink({ segmentBytes: 4_096, lingerMilliseconds: 1 });
    const source = openSource({ topics: ["live"], group: "follower", pollIntervalMilliseconds: 5 });
    const received: LogRecord[] = [];
    const started = source.start(async (batch) => {
      received.push(...batch);
    });
    for (let round = 0; round < 20; round += 1) {
      appendNumbered(sink, "live", round * 50, round * 50 + 50);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await sink.flush();
    await waitUntil(() => received.length >= 1_000, "1,000 live records");
    await source.close();
    await within(started, "start() to settle");
    expect(indexesOf(received)).toEqual(Array.from({ length: 1_000 }, (_, index) => index));
  });

  it("reads what a writer in another process appended", async () => {
    // .mts: the temp folder has no package.json saying "type": "module".
    const script = join(directory, "writer.mts");
    const indexModule = new URL("../../eventlog/index.ts", import.meta.url).href;
    writeFileSync(
      script,
      [
        `import { LocalLogSink } from ${JSON.stringify(indexModule)};`,
        `const sink = await LocalLogSink.open({ directory: ${JSON.stringify(directory)} });`,
        "for (let index = 0; index < 500; index += 1) {",
        '  sink.append("shared", "key-" + (index % 7), JSON.stringify({ index }));',
        "  if (index % 100 === 99) await sink.flush();",
        "}",
        "await sink.close();",
      ].join("\n"),
    );
    const source = openSource({
      topics: ["shared"],
      group: "reader",
      pollIntervalMilliseconds: 10,
    });
    const received: LogRecord[] = [];
    const started = source.start(async (batch) => {
      received.push(...batch);
    });
    await within(
      promisify(execFile)(process.execPath, ["--import", "tsx", script], { timeout: 15_000 }),
      "writer process",
    );
    await waitUntil(() => received.length >= 500, "500 records from the other process");
    await source.close();
    await within(started, "start() to settle");
    expect(indexesOf(received)).toEqual(Array.from({ length: 500 }, (_, index) => index));
  });

  it("lets two sinks in one process share a topic without reusing an offset", async () => {
    const gatewaySink = await openSink();
    const ingestSink = await openSink();
    appendNumbered(gatewaySink, "shared", 0, 50);
    appendNumbered(ingestSink, "shared", 50, 100);
    await Promise.all([gatewaySink.flush(), ingestSink.flush()]);
    const records = await consume(openSource({ topics: ["shared"], group: "all" }), 100);
    expect(records.map((record) => record.offset)).toEqual(
      Array.from({ length: 100 }, (_, index) => String(index)),
    );
    expect(indexesOf(records).sort((left, right) => left - right)).toEqual(
      Array.from({ length: 100 }, (_, index) => index),
    );
  });

  it("refuses a second reader of the same group in one process", async () => {
    const sink = await openSink();
    appendNumbered(sink, "single", 0, 1);
    await sink.flush();
    const first = openSource({ topics: ["single"], group: "ingest" });
    const firstRun = first.start(async () => {});
    const second = openSource({ topics: ["single"], group: "ingest" });
    await expect(
      within(
        second.start(async () => {}),
        "second start",
      ),
    ).rejects.toThrow(/already has a reader/);
    await first.close();
    await within(firstRun, "first start to settle");
  });

  it("rejects names that are not safe topic or file names", async () => {
    const sink = await openSink();
    expect(() => sink.append("../escape", "key", "value")).toThrow(/invalid topic name/);
    expect(() => new LocalLogSource({ directory, topics: ["ok"], group: ".hidden" })).toThrow(
      /invalid consumer group name/,
    );
  });
});
