import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { EventSource, LogRecord } from "../eventlog/ports.ts";
import { EVENT_TYPES } from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import type { EventLoader } from "./loader.ts";

export const INGEST_GROUP = "switchboard-ingest";
export const INGEST_TOPICS = EVENT_TYPES.map(topicFor);

const FIRST_RETRY_MS = 200;
const LONGEST_RETRY_MS = 30_000;

/**
 * Runs ingest until the source stops. Every batch is stored before its
 * position is committed (the source commits when the handler resolves). When
 * ClickHouse fails, the same batch is retried with backoff, holding its
 * partition: later events wait rather than overtake or get lost.
 */
export function runIngest(source: EventSource, loader: EventLoader, logger: Logger): Promise<void> {
  return source.start(async (records) => storeWithRetry(records, loader, logger));
}

async function storeWithRetry(
  records: LogRecord[],
  loader: EventLoader,
  logger: Logger,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const stored = await loader.store(records);
      if (stored.deadLetters > 0) {
        logger.warn(
          { deadLetters: stored.deadLetters },
          "events failed validation; sent to the dead-letter topic",
        );
      }
      return;
    } catch (error) {
      const delay = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** (attempt - 1));
      logger.error(
        { err: error, attempt, retryInMs: delay, records: records.length },
        "storing a batch failed",
      );
      await sleep(delay);
    }
  }
}
