import type { SwitchboardEvent } from "../events/schemas.ts";

/**
 * Where the gateway (and ingest, for dead letters) write. `publish` and
 * `append` only buffer and never block: a request never waits on the log.
 * `flush` resolves once everything appended before it is durable (fsync'd on
 * disk, acknowledged by every in-sync Kafka replica, or, behind the outbox,
 * one of the two).
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

/** What a source tells the handler of one batch. */
export interface BatchContext {
  /**
   * Aborted when the source wants the batch given up: `close()` was called,
   * or (Kafka) the group is rebalancing and the batch's partitions may move.
   * A handler stops retrying when it fires; if it then rejects, nothing of the
   * batch is committed and the source carries on (rebalance) or stops (close)
   * without counting it a failure. A handler that resolves anyway has stored
   * the batch, and its position is committed as usual.
   */
  signal: AbortSignal;
}

export type BatchHandler = (records: LogRecord[], context: BatchContext) => Promise<void>;

/** How far a group's committed position is behind the end of one partition. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** Records in the partition the group has not committed yet. */
  lag: number;
}

/**
 * Where ingest reads. The handler receives a batch and resolves once the batch
 * is stored; only then is the position committed, so a crash in between
 * redelivers the batch (at least once) and never skips it.
 *
 * Batches are bounded by records, bytes and time (the log's batching
 * options), so the handler can store each with one insert per table.
 *
 * `start` begins consuming and returns a promise that settles when the source
 * stops: it resolves after `close()`, and rejects when the handler rejects
 * without the batch's signal being aborted (nothing of that batch is
 * committed) or the log fails in a way the source cannot ride out (the Kafka
 * source replaces a crashed consumer itself, so a broker outage is waited
 * out). Callers do not await it at start-up; they watch it to stop the
 * process on failure.
 */
export interface EventSource {
  start(handler: BatchHandler): Promise<void>;
  /** Aborts the batch in hand (its handler stops retrying), commits it if it was stored, and stops. */
  close(): Promise<void>;
  /** The group's lag per partition, for the consumer-lag metric. */
  lag(): Promise<PartitionLag[]>;
}

/**
 * A one-off reading of topics for `switchboard replay`: a source in a
 * consumer group of its own, positioned at the start (or at a time), and the
 * end offsets it must reach, taken when it was opened.
 */
export interface ReplaySource {
  source: EventSource;
  /** The replay's own consumer group, removed by `cleanUp`. */
  group: string;
  /** `topic/partition` → the offset after the last record to replay; partitions with nothing to replay are absent. */
  endOffsets: Map<string, bigint>;
  /** Removes the replay's group (its committed positions); call after the source has closed. */
  cleanUp(): Promise<void>;
}
