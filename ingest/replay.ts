import type { Logger } from "pino";
import type { ClickHouseClient } from "../clickhouse/client.ts";
import type { EventLog } from "../eventlog/open-event-log.ts";
import type { EventSink, LogRecord } from "../eventlog/ports.ts";
import type { SecretRedactor } from "../eventlog/secret-redactor.ts";
import { EVENT_TYPES } from "../events/schemas.ts";
import { INGEST_TOPICS, storeWithRetry } from "./consumer.ts";
import type { IngestMetrics } from "./ingest-metrics.ts";
import { EventLoader } from "./loader.ts";

export interface ReplayOptions {
  eventLog: EventLog;
  clickhouse: ClickHouseClient;
  deadLetterSink: EventSink;
  /** Kafka: start at the first record sent at or after this time. The local log always starts at 0. */
  from?: Date;
  topics?: string[];
  /** Aborting it stops the replay (it then rejects, having stored and committed what it read). */
  signal?: AbortSignal;
  logger: Logger;
  metrics?: IngestMetrics;
  /** The vendor keys kept out of dead letters. Default: none. */
  redactor?: SecretRedactor;
}

export interface ReplaySummary {
  /** Records read from the log. */
  records: number;
  /** Rows inserted: events the tables did not have. */
  inserted: number;
  /** Events the tables already had, left out. */
  duplicates: number;
  /** Records that went to the dead letters (new there or not). */
  deadLetters: number;
}

/**
 * Rebuilds the event tables from the log: reads the topics from the start
 * (or from a time) up to their end as of now, through the same loader as
 * live ingest, in a consumer group of its own that is removed afterwards.
 * The idempotent load makes it safe to run any number of times: a second run
 * inserts nothing. To rebuild a table from scratch, truncate it first.
 * Run it with live ingest stopped: the two looking up the same new event at
 * the same moment could both insert it (see EventLoader).
 */
export async function replay(options: ReplayOptions): Promise<ReplaySummary> {
  const { logger } = options;
  const plan = await options.eventLog.openReplay(options.topics ?? INGEST_TOPICS, {
    from: options.from,
  });
  const summary: ReplaySummary = { records: 0, inserted: 0, duplicates: 0, deadLetters: 0 };
  const remaining = new Map(plan.endOffsets);
  logger.info(
    { group: plan.group, partitions: remaining.size, from: options.from?.toISOString() },
    "replay: reading the log into ClickHouse",
  );
  if (remaining.size === 0) {
    await plan.cleanUp();
    return summary;
  }
  const store = storeWithRetry(
    new EventLoader(options.clickhouse, options.deadLetterSink, {
      metrics: options.metrics,
      redactor: options.redactor,
    }),
    {
      logger,
      metrics: options.metrics,
      onStored(stored, records) {
        summary.records += records;
        summary.inserted += EVENT_TYPES.reduce((sum, eventType) => sum + stored.rows[eventType], 0);
        summary.duplicates += stored.duplicates;
        summary.deadLetters += stored.deadLetters;
      },
    },
  );
  const running = plan.source.start(async (records, context) => {
    await store(records, context);
    markReached(remaining, records);
    // Stored: this batch is committed as usual while the source closes.
    if (remaining.size === 0) setImmediate(() => void plan.source.close());
  });
  const stop = () => void plan.source.close();
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    await running;
  } finally {
    options.signal?.removeEventListener("abort", stop);
    await plan.cleanUp().catch((error: unknown) => {
      logger.warn({ err: error, group: plan.group }, "replay: could not remove its group");
    });
  }
  if (remaining.size > 0) {
    throw new Error(`replay stopped before the end of ${[...remaining.keys()].join(", ")}`);
  }
  logger.info(summary, "replay: done");
  return summary;
}

function markReached(remaining: Map<string, bigint>, records: LogRecord[]): void {
  for (const record of records) {
    const key = `${record.topic}/${record.partition}`;
    const end = remaining.get(key);
    if (end !== undefined && BigInt(record.offset) + 1n >= end) remaining.delete(key);
  }
}
