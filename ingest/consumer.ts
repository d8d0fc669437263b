import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { BatchHandler, EventSource } from "../eventlog/ports.ts";
import { EVENT_TYPES } from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import type { IngestMetrics } from "./ingest-metrics.ts";
import type { EventLoader, StoredBatch } from "./loader.ts";
import { TABLE_FOR_EVENT } from "./rows.ts";

export const INGEST_GROUP = "switchboard-ingest";
export const INGEST_TOPICS = EVENT_TYPES.map(topicFor);

export interface IngestOptions {
  logger: Logger;
  metrics?: IngestMetrics;
  /** Wait before the first retry of a batch ClickHouse did not take; doubles each time. Default 200 ms. */
  firstRetryMilliseconds?: number;
  /** Longest wait between retries. Default 30 s. */
  longestRetryMilliseconds?: number;
  /** Told about every batch stored (replay counts them). */
  onStored?(stored: StoredBatch, records: number): void;
}

/**
 * Runs ingest until the source stops; resolves after `source.close()` and
 * rejects when the source fails. Stopping is the source's: `close()` aborts
 * the batch in hand, which ends its retries at once.
 */
export function runIngest(
  source: EventSource,
  loader: EventLoader,
  options: IngestOptions | Logger,
): Promise<void> {
  // A bare logger is accepted for callers that need no other option.
  const settings: IngestOptions =
    typeof (options as Logger).child === "function"
      ? { logger: options as Logger }
      : (options as IngestOptions);
  const stopWatchingLag = settings.metrics?.watchLag(() => source.lag());
  const running = source.start(storeWithRetry(loader, settings));
  running.then(stopWatchingLag, stopWatchingLag);
  return running;
}

/**
 * The batch handler: stores a batch, and when ClickHouse fails, stores the
 * same batch again after a backoff (200 ms doubling to 30 s), for as long as
 * it takes. Meanwhile the source holds the batch uncommitted and fetches
 * nothing more (memory stays at one batch) and later events wait rather than
 * overtake. The wait ends early when the batch's signal is aborted (close, or
 * a rebalance): the handler then rejects and nothing is committed.
 */
export function storeWithRetry(loader: EventLoader, options: IngestOptions): BatchHandler {
  const { logger, metrics } = options;
  const firstRetry = options.firstRetryMilliseconds ?? 200;
  const longestRetry = options.longestRetryMilliseconds ?? 30_000;
  return async (records, { signal }) => {
    metrics?.batchEvents.observe(records.length);
    for (let attempt = 1; ; attempt += 1) {
      const startedAt = performance.now();
      try {
        const stored = await loader.store(records);
        metrics?.batchSeconds.observe((performance.now() - startedAt) / 1000);
        metrics?.retrying.set(0);
        record(stored, records.length, options);
        if (attempt > 1) logger.info({ attempt, records: records.length }, "stored after retrying");
        return;
      } catch (error) {
        if (signal.aborted) throw error;
        const delay = Math.min(longestRetry, firstRetry * 2 ** (attempt - 1));
        logger.error(
          { err: error, attempt, retryInMs: delay, records: records.length },
          "storing a batch failed; holding it (nothing committed) and retrying",
        );
        metrics?.batchRetries.inc();
        metrics?.retrying.set(1);
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          metrics?.retrying.set(0);
          throw new Error("ingest stopped while retrying a batch; it was not committed", {
            cause: error,
          });
        }
      }
    }
  };
}

function record(stored: StoredBatch, records: number, options: IngestOptions): void {
  const { logger, metrics } = options;
  if (metrics) {
    for (const eventType of EVENT_TYPES) {
      const table = TABLE_FOR_EVENT[eventType];
      if (stored.rows[eventType] > 0) metrics.rowsInserted.inc({ table }, stored.rows[eventType]);
      if (stored.bytes[eventType] > 0)
        metrics.bytesInserted.inc({ table }, stored.bytes[eventType]);
    }
    if (stored.duplicates > 0) metrics.duplicatesSkipped.inc(stored.duplicates);
    if (stored.deadLetters > 0) metrics.deadLetters.inc(stored.deadLetters);
  }
  if (stored.deadLetters > 0) {
    logger.warn(
      { deadLetters: stored.deadLetters },
      "events failed validation or were refused; sent to the dead letters",
    );
  }
  if (stored.duplicates > 0) {
    logger.info({ duplicates: stored.duplicates }, "left out events that were already stored");
  }
  options.onStored?.(stored, records);
}
