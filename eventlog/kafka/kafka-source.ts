import type { Batch, Consumer, EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { defaultEventLogLogger } from "../logger.ts";
import type { EventSource, LogRecord } from "../ports.ts";

export interface KafkaSourceOptions {
  group: string;
  topics: string[];
  /** A new group starts at the earliest record (true, the default) or only sees new ones. */
  fromBeginning?: boolean;
  /** The broker drops a member it has not heard from for this long. Default 30 s. */
  sessionTimeoutMilliseconds?: number;
  /** How often a member heartbeats, also while a long handler runs. Default 3 s. */
  heartbeatIntervalMilliseconds?: number;
  /**
   * Longest a fetch waits at the broker for new records. Default 1 s (kafkajs:
   * 5 s): close() waits for the fetch in flight, so this bounds how long it takes.
   */
  maxFetchWaitMilliseconds?: number;
  logger?: Logger;
}

const EMPTY_VALUE = Buffer.alloc(0);

/**
 * The distributed event log's reader: one member of a consumer group. Each
 * partition batch goes to the handler; only after it resolves is offset
 * last+1 committed, explicitly (no auto-commit), so a crash or a rejecting
 * handler leaves the batch to be delivered again, never skipped.
 */
export class KafkaSource implements EventSource {
  private readonly consumer: Consumer;
  private readonly options: KafkaSourceOptions;
  private readonly logger: Logger;
  private started = false;
  private stopping: Promise<void> | undefined;
  private connecting: Promise<unknown> = Promise.resolve();
  private settle: { resolve(): void; reject(error: unknown): void } | undefined;
  private failure: unknown;

  constructor(kafka: Kafka, options: KafkaSourceOptions) {
    if (options.topics.length === 0) throw new Error("kafka source needs at least one topic");
    this.options = options;
    this.logger = options.logger ?? defaultEventLogLogger();
    this.consumer = kafka.consumer({
      groupId: options.group,
      sessionTimeout: options.sessionTimeoutMilliseconds ?? 30_000,
      heartbeatInterval: options.heartbeatIntervalMilliseconds ?? 3_000,
      maxWaitTimeInMs: options.maxFetchWaitMilliseconds ?? 1_000,
      allowAutoTopicCreation: false,
    });
    // A crash kafkajs will not restart from (a non-retriable error) ends the source.
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      if (!event.payload.restart) this.stop(event.payload.error);
    });
  }

  start(handler: (records: LogRecord[]) => Promise<void>): Promise<void> {
    if (this.started) return Promise.reject(new Error("source already started"));
    this.started = true;
    if (this.stopping) return Promise.reject(new Error("source is closed"));
    const stopped = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    const running = this.subscribeAndRun(handler);
    // stop() waits for the set-up to settle before it disconnects.
    this.connecting = running.catch(() => {});
    running.catch((error: unknown) => this.stop(error));
    return stopped;
  }

  /** Leaves the group after the batch in hand (if any) is handled and committed; then `start` resolves. */
  async close(): Promise<void> {
    await this.stop(undefined);
  }

  private async subscribeAndRun(handler: (records: LogRecord[]) => Promise<void>): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: this.options.topics,
      fromBeginning: this.options.fromBeginning ?? true,
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // One partition batch at a time, so batches reach the handler one by one.
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.handleBatch(payload, handler),
    });
  }

  private async handleBatch(
    payload: EachBatchPayload,
    handler: (records: LogRecord[]) => Promise<void>,
  ): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    if (this.stopping || !isRunning() || isStale() || batch.messages.length === 0) return;
    const records = toLogRecords(batch);
    // kafkajs only heartbeats between batches; a long handler must not look
    // like a dead member, or its partitions move and the batch runs twice.
    const heartbeatTimer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        this.logger.debug({ err: error }, "kafka source: heartbeat during a batch failed");
      });
    }, this.options.heartbeatIntervalMilliseconds ?? 3_000);
    try {
      await handler(records);
    } catch (error) {
      // Nothing of this batch is committed. Stopping waits for this function to
      // return, so it is started, not awaited; returning normally (not
      // throwing) keeps kafkajs from restarting the consumer on its own.
      void this.stop(error);
      return;
    } finally {
      clearInterval(heartbeatTimer);
    }
    // handler stored the batch → commit last+1 → only then move on. This goes
    // through the batch's own commit, which (unlike consumer.commitOffsets)
    // still commits while close() waits for the batch to finish.
    const lastOffset = batch.lastOffset();
    await payload.commitOffsetsIfNecessary({
      topics: [
        {
          topic: batch.topic,
          partitions: [
            { partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() },
          ],
        },
      ],
    });
    resolveOffset(lastOffset);
  }

  /** Leaves the group and settles `start`: resolved for a close, rejected with the first failure. */
  private stop(error: unknown): Promise<void> {
    if (error !== undefined && this.failure === undefined) this.failure = error;
    if (this.stopping === undefined) {
      this.stopping = this.connecting
        .then(() => this.consumer.disconnect())
        .then(
          () => {
            if (this.failure === undefined) this.settle?.resolve();
            else this.settle?.reject(this.failure);
          },
          (disconnectError: unknown) => this.settle?.reject(this.failure ?? disconnectError),
        );
    }
    return this.stopping;
  }
}

function toLogRecords(batch: Batch): LogRecord[] {
  return batch.messages.map((message) => ({
    topic: batch.topic,
    partition: batch.partition,
    offset: message.offset,
    key: message.key === null || message.key === undefined ? null : message.key.toString("utf8"),
    value: message.value ?? EMPTY_VALUE,
  }));
}
