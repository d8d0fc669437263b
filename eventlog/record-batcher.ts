import type { Logger } from "pino";

/** A record waiting in memory for its batch to be written. */
export interface PendingRecord {
  topic: string;
  key: string;
  value: string;
}

/**
 * Thrown by a `deliver` function that wrote part of a batch durably: only
 * `undelivered` (in their original order) go back to the front of the queue,
 * so the part that is already durable is not written twice.
 */
export class PartialDeliveryError extends Error {
  constructor(
    readonly undelivered: PendingRecord[],
    options: { cause: unknown },
  ) {
    super(`${undelivered.length} records were not delivered`, options);
    this.name = "PartialDeliveryError";
  }
}

/** Rejects a `flush` whose records were dropped to keep memory bounded. */
export class DroppedRecordsError extends Error {
  constructor(count: number) {
    super(`${count} buffered records were dropped because the buffer was full`);
    this.name = "DroppedRecordsError";
  }
}

export interface RecordBatcherOptions {
  /** Used in log lines: "local log", "kafka". */
  name: string;
  /**
   * Writes a batch, in order, and resolves once it is durable. Called with one
   * batch at a time, so batches reach the log in the order they were added.
   */
  deliver(records: PendingRecord[]): Promise<void>;
  lingerMilliseconds: number;
  maxBatchRecords: number;
  /** Upper bound on the key + value bytes of one delivery (Kafka's request size). */
  maxBatchBytes: number;
  /** After a failed delivery, the next attempt starts this long after (or at the next flush). */
  retryDelayMilliseconds: number;
  /** Past this many records waiting, the oldest are dropped and logged; `Infinity` never drops. */
  maxBufferedRecords: number;
  /** Told how many records were just dropped (for a metric); the batcher logs them itself. */
  onDropped?(count: number): void;
  /** Past this many records waiting, each `add` calls `onBacklog` (the outbox spills to disk then). */
  backlogThreshold?: number;
  onBacklog?(): void;
  logger: Logger;
}

const DROP_REPORT_INTERVAL_MILLISECONDS = 1_000;

interface QueuedRecord extends PendingRecord {
  sequence: number;
}

interface FlushWaiter {
  /** The waiter is satisfied once every record up to this sequence is durable. */
  throughSequence: number;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * The in-memory half of a sink: `add` never blocks and never waits on I/O; a
 * batch goes out when it reaches `maxBatchRecords` or `lingerMilliseconds`
 * after its first record, whichever comes first, or at once on `flush`. One
 * delivery is in flight at a time, which keeps the order and lets the records
 * that arrive meanwhile form the next batch.
 */
export class RecordBatcher {
  private queue: QueuedRecord[] = [];
  /** Records before this index have been taken for delivery (compacted lazily). */
  private queueHead = 0;
  private inFlight: QueuedRecord[] | undefined;
  private nextSequence = 1;
  private waiters: FlushWaiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private droppedSinceLastReport = 0;
  private lastDropReportAt = 0;
  private stopped = false;
  /** After a failure, a full batch waits for the retry timer instead of hammering a log that is down. */
  private retryNotBefore = 0;

  constructor(private readonly options: RecordBatcherOptions) {}

  get bufferedCount(): number {
    return this.queue.length - this.queueHead + (this.inFlight?.length ?? 0);
  }

  add(record: PendingRecord): void {
    // A plain literal, not a spread: this runs once per event on the request path.
    this.queue.push({
      topic: record.topic,
      key: record.key,
      value: record.value,
      sequence: this.nextSequence,
    });
    this.nextSequence += 1;
    if (this.bufferedCount > (this.options.backlogThreshold ?? Number.POSITIVE_INFINITY)) {
      this.options.onBacklog?.();
    }
    if (this.bufferedCount > this.options.maxBufferedRecords) this.dropOldest();
    const backingOff = Date.now() < this.retryNotBefore;
    if (!backingOff && this.queue.length - this.queueHead >= this.options.maxBatchRecords) {
      this.deliverNext();
    } else {
      this.armTimer(this.options.lingerMilliseconds);
    }
  }

  /** Resolves once every record added before the call is durable; rejects if any of them failed or was dropped. */
  flush(): Promise<void> {
    const throughSequence = this.nextSequence - 1;
    if (this.oldestPendingSequence() > throughSequence) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ throughSequence, resolve, reject });
      this.deliverNext();
    });
  }

  /** Stops the timers; records still buffered stay where they are (the caller reports them). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.reportDropped();
  }

  private oldestPendingSequence(): number {
    return (
      this.inFlight?.[0]?.sequence ?? this.queue[this.queueHead]?.sequence ?? this.nextSequence
    );
  }

  private armTimer(milliseconds: number): void {
    if (this.stopped || this.timer !== undefined || this.inFlight !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.deliverNext();
    }, milliseconds);
  }

  /** Takes the next batch from the head of the queue, bounded by count and bytes. */
  private takeBatch(): QueuedRecord[] {
    let end = this.queueHead;
    let bytes = 0;
    const limit = Math.min(this.queue.length, this.queueHead + this.options.maxBatchRecords);
    while (end < limit) {
      const record = this.queue[end] as QueuedRecord;
      // Counted here, off the request path, rather than in add().
      const recordBytes = Buffer.byteLength(record.key) + Buffer.byteLength(record.value);
      // At least one record per batch, even one over the byte bound, so nothing sticks.
      if (end > this.queueHead && bytes + recordBytes > this.options.maxBatchBytes) break;
      bytes += recordBytes;
      end += 1;
    }
    const batch = this.queue.slice(this.queueHead, end);
    this.queueHead = end;
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return batch;
  }

  private deliverNext(): void {
    if (this.inFlight !== undefined) return; // the delivery in flight schedules the next one
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    this.inFlight = batch;
    Promise.resolve()
      .then(() => this.options.deliver(batch))
      .then(
        () => this.afterSuccess(),
        (error: unknown) => this.afterFailure(batch, error),
      );
  }

  private afterSuccess(): void {
    this.inFlight = undefined;
    this.retryNotBefore = 0;
    this.settleWaiters();
    const waiting = this.queue.length - this.queueHead;
    if (waiting === 0) return;
    if (this.waiters.length > 0 || waiting >= this.options.maxBatchRecords) this.deliverNext();
    else this.armTimer(this.options.lingerMilliseconds);
  }

  private afterFailure(batch: QueuedRecord[], error: unknown): void {
    this.inFlight = undefined;
    let undelivered = batch;
    if (error instanceof PartialDeliveryError) {
      const failed = new Set(error.undelivered);
      undelivered = batch.filter((record) => failed.has(record));
    }
    // Back to the front, in order: the next attempt writes them before anything newer.
    this.queue = [...undelivered, ...this.queue.slice(this.queueHead)];
    this.queueHead = 0;
    const cause = error instanceof PartialDeliveryError ? error.cause : error;
    this.options.logger.error(
      { err: cause, records: undelivered.length, buffered: this.bufferedCount },
      `${this.options.name}: writing a batch failed; its records stay buffered and are retried in ${this.options.retryDelayMilliseconds} ms`,
    );
    // A waiter covering a failed record learns of the failure now rather than
    // waiting through an outage; its records stay queued for the retry.
    const firstFailed = undelivered[0]?.sequence ?? Number.POSITIVE_INFINITY;
    this.settleWaiters();
    this.rejectWaiters((waiter) => waiter.throughSequence >= firstFailed, cause);
    if (this.bufferedCount > this.options.maxBufferedRecords) this.dropOldest();
    this.reportDropped();
    this.retryNotBefore = Date.now() + this.options.retryDelayMilliseconds;
    this.armTimer(this.options.retryDelayMilliseconds);
  }

  private settleWaiters(): void {
    const oldestPending = this.oldestPendingSequence();
    const remaining: FlushWaiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.throughSequence < oldestPending) waiter.resolve();
      else remaining.push(waiter);
    }
    this.waiters = remaining;
  }

  private rejectWaiters(matches: (waiter: FlushWaiter) => boolean, error: unknown): void {
    const remaining: FlushWaiter[] = [];
    for (const waiter of this.waiters) {
      if (matches(waiter)) waiter.reject(error);
      else remaining.push(waiter);
    }
    this.waiters = remaining;
  }

  /**
   * Keeps memory bounded while nothing can take the records by dropping the
   * oldest waiting ones (never the batch in flight), loudly. The records are
   * lost: behind the outbox this happens only once the disk outbox is full too.
   */
  private dropOldest(): void {
    const count = Math.min(
      this.bufferedCount - this.options.maxBufferedRecords,
      this.queue.length - this.queueHead,
    );
    if (count <= 0) return;
    const firstDropped = (this.queue[this.queueHead] as QueuedRecord).sequence;
    this.queueHead += count;
    this.droppedSinceLastReport += count;
    this.options.onDropped?.(count);
    this.rejectWaiters(
      (waiter) => waiter.throughSequence >= firstDropped,
      new DroppedRecordsError(count),
    );
    // At most one line a second while it lasts: a line per record would make an outage worse.
    if (Date.now() - this.lastDropReportAt >= DROP_REPORT_INTERVAL_MILLISECONDS) {
      this.reportDropped();
    }
  }

  /** Logs the records dropped since the last report, if any. */
  private reportDropped(): void {
    if (this.droppedSinceLastReport === 0) return;
    this.options.logger.error(
      { dropped: this.droppedSinceLastReport, maxBufferedRecords: this.options.maxBufferedRecords },
      `${this.options.name}: buffer full, dropped the oldest records; these events are LOST`,
    );
    this.droppedSinceLastReport = 0;
    this.lastDropReportAt = Date.now();
  }
}
