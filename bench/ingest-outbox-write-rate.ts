// The gateway's outbox: how fast it takes events, in one run against a real
// broker of its own.
//
//   node --import tsx bench/ingest-outbox-write-rate.ts [events, default 200000]
//
//  1. spool: Kafka "down" (the primary refuses at once): publish → memory →
//     the spool, written and fsync'd in batches; timed until flush resolves
//     (every event durable on disk).
//  2. drain: Kafka back: the spool of 1 sent to the broker, oldest first.
//  3. direct: Kafka up from the start: publish → memory → KafkaBatchSender.
//  4. reference: the embedded local log sink (the same segment writer).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import {
  ensureTopics,
  KafkaBatchSender,
  kafkaFromBrokers,
  LocalLogSink,
  OutboxSink,
} from "../eventlog/index.ts";
import type { EventSink } from "../eventlog/ports.ts";
import type { PendingRecord } from "../eventlog/record-batcher.ts";
import type { RecordWriter } from "../eventlog/record-writer.ts";
import { newEventId } from "../events/ids.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { startKafkaBroker } from "../test/kafka/broker.ts";

const eventCount = Number(process.argv[2] ?? 200_000);
const logger = pino({ level: process.env.LOG_LEVEL ?? "error" });
const events = Array.from({ length: eventCount }, (_, index) =>
  sampleRequestCompleted({
    event_id: newEventId(),
    request_id: `req_${index}`,
    tenant_id: `tenant-${index % 5}`,
  }),
);

function rate(count: number, milliseconds: number): string {
  return `${Math.round((count * 1000) / milliseconds).toLocaleString("en-US")} events/s`;
}

/** Publishes every event as a gateway would (a thousand per turn of the event loop), then flushes. */
async function publishAll(sink: EventSink): Promise<number> {
  const started = performance.now();
  for (let start = 0; start < events.length; start += 1_000) {
    for (const event of events.slice(start, start + 1_000)) sink.publish(event);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await sink.flush();
  return performance.now() - started;
}

const broker = await startKafkaBroker();
const directory = mkdtempSync(join(tmpdir(), "switchboard-bench-outbox-"));
try {
  await ensureTopics(broker.brokers, { logger });
  const kafka = kafkaFromBrokers(broker.brokers, "switchboard-bench-outbox", { logger });
  const sender = new KafkaBatchSender(kafka, { logger, sendTimeoutMilliseconds: 30_000 });
  let kafkaUp = false;
  const switchable: RecordWriter = {
    write: (records: PendingRecord[]) =>
      kafkaUp ? sender.write(records) : Promise.reject(new Error("Kafka is down (bench)")),
    close: () => sender.close(),
  };

  // 1. spool
  const outbox = await OutboxSink.open({
    directory: join(directory, "gateway"),
    primary: switchable,
    maxMemoryEvents: eventCount * 2,
    retryDelayMilliseconds: 100,
    logger,
  });
  const spoolMilliseconds = await publishAll(outbox);
  const spooled = outbox.state();
  console.log(
    `${eventCount.toLocaleString("en-US")} events of ${JSON.stringify(events[0]).length} bytes`,
  );
  console.log(
    `spool (Kafka down, fsync'd before flush resolves): ${rate(eventCount, spoolMilliseconds)}; ${spooled.depthEvents} on disk, ${(spooled.spoolBytes / 1024 / 1024).toFixed(1)} MiB`,
  );

  // 2. drain
  kafkaUp = true;
  const drainStarted = performance.now();
  while (outbox.state().spooling) await new Promise((resolve) => setTimeout(resolve, 20));
  console.log(
    `drain (spool → Kafka, acks=all): ${rate(eventCount, performance.now() - drainStarted)}`,
  );
  await outbox.close();

  // 3. direct
  const direct = await OutboxSink.open({
    directory: join(directory, "direct"),
    primary: new KafkaBatchSender(kafka, { logger, sendTimeoutMilliseconds: 30_000 }),
    maxMemoryEvents: eventCount * 2,
    logger,
  });
  const directMilliseconds = await publishAll(direct);
  const spilled = direct.state();
  await direct.close();
  console.log(
    `direct (Kafka up, acks=all): ${rate(eventCount, directMilliseconds)}${spilled.depthEvents > 0 ? ` (${spilled.depthEvents} spilled to the spool)` : ""}`,
  );

  // 4. reference
  const local = await LocalLogSink.open({ directory: join(directory, "local"), logger });
  const localMilliseconds = await publishAll(local);
  await local.close();
  console.log(`reference, local log sink (embedded mode): ${rate(eventCount, localMilliseconds)}`);
} finally {
  await broker.destroy();
  rmSync(directory, { recursive: true, force: true });
}
