import type { SwitchboardEvent } from "../events/schemas.ts";

/**
 * Where the gateway (and ingest, for dead letters) write. `publish` and
 * `append` only buffer and never block: a request never waits on the log.
 * `flush` resolves once everything appended before it is durable (fsync'd on
 * disk, or acknowledged by every in-sync Kafka replica).
 */
export interface EventSink {
  publish(event: SwitchboardEvent): void;
  append(topic: string, key: string, value: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** One record as read from a topic, with the position it came from. */
export interface LogRecord {
  topic: string;
  partition: number;
  /** Decimal string: Kafka offsets are 64-bit. */
  offset: string;
  key: string | null;
  value: Buffer;
}

/**
 * Where ingest reads. The handler receives a batch and resolves once the batch
 * is stored; only then is the position committed, so a crash in between
 * redelivers the batch (at least once) and never skips it.
 *
 * `start` begins consuming and returns a promise that settles when the source
 * stops: it resolves after `close()`, and rejects when the handler rejects (nothing
 * of that batch is committed) or the log fails. Callers do not await it at
 * start-up; they watch it to stop the process on failure.
 */
export interface EventSource {
  start(handler: (records: LogRecord[]) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}
