import type { Kafka } from "kafkajs";
import type { Logger } from "pino";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import { topicFor } from "../../events/topics.ts";
import { defaultEventLogLogger } from "../logger.ts";
import type { EventSink } from "../ports.ts";
import { RecordBatcher } from "../record-batcher.ts";
import { KafkaBatchSender } from "./kafka-batch-sender.ts";

export interface KafkaSinkOptions {
  /** How long the first buffered record waits for others to share its request. Default 5 ms. */
  lingerMilliseconds?: number;
  /** A batch is sent as soon as this many records wait. Default 1,000. */
  maxBatchRecords?: number;
  /**
   * Key + value bytes per `sendBatch`. Default 900 KiB, under the broker's
   * 1 MiB `message.max.bytes` for a partition's record batch.
   */
  maxBatchBytes?: number;
  /** After a failed send, the next try comes this long after (or at the next flush). Default 1 s. */
  retryDelayMilliseconds?: number;
  /** A send not acknowledged by then fails and is retried. Default 30 s. */
  sendTimeoutMilliseconds?: number;
  logger?: Logger;
}

/**
 * The distributed event log's plain writer: `publish` and `append` only
 * buffer; batches go out through an idempotent producer with acks=all, so
 * `flush` resolves once every in-sync replica has the records. A failed send
 * keeps its records buffered, in order, and retries them; nothing is dropped,
 * and every `flush` rejects while Kafka is unreachable. Ingest uses it for dead
 * letters, where a rejected flush means "do not commit". The gateway uses it
 * behind the outbox (`OutboxSink`), which bounds memory by spooling to disk.
 */
export class KafkaSink implements EventSink {
  private readonly batcher: RecordBatcher;
  private readonly logger: Logger;
  private closed = false;

  private constructor(
    private readonly sender: KafkaBatchSender,
    options: KafkaSinkOptions,
  ) {
    this.logger = options.logger ?? defaultEventLogLogger();
    this.batcher = new RecordBatcher({
      name: "kafka sink",
      deliver: (records) => this.sender.write(records),
      lingerMilliseconds: options.lingerMilliseconds ?? 5,
      maxBatchRecords: options.maxBatchRecords ?? 1_000,
      maxBatchBytes: options.maxBatchBytes ?? 900 * 1024,
      retryDelayMilliseconds: options.retryDelayMilliseconds ?? 1_000,
      maxBufferedRecords: Number.POSITIVE_INFINITY,
      logger: this.logger,
    });
  }

  /** Connects the producer first, so a broker that is down fails here, at start-up. */
  static async connect(kafka: Kafka, options: KafkaSinkOptions = {}): Promise<KafkaSink> {
    const logger = options.logger ?? defaultEventLogLogger();
    const sender = new KafkaBatchSender(kafka, {
      logger,
      sendTimeoutMilliseconds: options.sendTimeoutMilliseconds,
    });
    await sender.connect();
    return new KafkaSink(sender, { ...options, logger });
  }

  publish(event: SwitchboardEvent): void {
    this.append(topicFor(event.event_type), event.request_id, JSON.stringify(event));
  }

  append(topic: string, key: string, value: string): void {
    if (this.closed) throw new Error("kafka sink is closed");
    this.batcher.add({ topic, key, value });
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  /** Flushes what is buffered, then disconnects; rejects (after disconnecting) if the last flush failed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.batcher.flush();
    } catch (error) {
      this.logger.error(
        { err: error, records: this.batcher.bufferedCount },
        "kafka sink: closing with records Kafka did not acknowledge; they are LOST",
      );
      throw error;
    } finally {
      this.batcher.stop();
      await this.sender.close();
    }
  }
}
