import { type Kafka, type Message, Partitioners, type Producer } from "kafkajs";
import type { Logger } from "pino";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import { topicFor } from "../../events/topics.ts";
import { defaultEventLogLogger } from "../logger.ts";
import type { EventSink } from "../ports.ts";
import { type PendingRecord, RecordBatcher } from "../record-batcher.ts";

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
  /** While Kafka is unreachable, at most this many records wait in memory. Default 100,000. */
  maxBufferedRecords?: number;
  /** After a failed send (kafkajs has already retried it), the next try comes this long after. Default 1 s. */
  retryDelayMilliseconds?: number;
  logger?: Logger;
}

/**
 * The distributed event log's writer. `publish` and `append` only buffer;
 * batches go out with `sendBatch` from an idempotent producer with acks=all,
 * so `flush` resolves once every in-sync replica has the records (and a
 * retried request is not written twice by the broker).
 */
export class KafkaSink implements EventSink {
  private readonly batcher: RecordBatcher;
  private readonly logger: Logger;
  private closed = false;

  private constructor(
    private readonly producer: Producer,
    options: KafkaSinkOptions,
  ) {
    this.logger = options.logger ?? defaultEventLogLogger();
    this.batcher = new RecordBatcher({
      name: "kafka sink",
      deliver: (records) => this.send(records),
      lingerMilliseconds: options.lingerMilliseconds ?? 5,
      maxBatchRecords: options.maxBatchRecords ?? 1_000,
      maxBatchBytes: options.maxBatchBytes ?? 900 * 1024,
      retryDelayMilliseconds: options.retryDelayMilliseconds ?? 1_000,
      // TEMPORARY: while Kafka is down the oldest records are dropped past this
      // bound, logged loudly with their count. A later issue replaces the drop
      // with a disk outbox (spool to the local log, drain in order).
      maxBufferedRecords: options.maxBufferedRecords ?? 100_000,
      logger: this.logger,
    });
  }

  static async connect(kafka: Kafka, options: KafkaSinkOptions = {}): Promise<KafkaSink> {
    const producer = kafka.producer({
      // The broker drops a retried batch it already has; kafkajs needs one
      // request in flight per broker for that (and for order).
      idempotent: true,
      maxInFlightRequests: 1,
      // Explicit, so kafkajs does not warn about its v2 default change; this is
      // the Java client's murmur2 partitioner: a request id maps to one partition.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    return new KafkaSink(producer, options);
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
      await this.producer.disconnect();
    }
  }

  /** One request for the whole batch; resolves when every in-sync replica has it (acks -1). */
  private async send(records: PendingRecord[]): Promise<void> {
    const messagesByTopic = new Map<string, Message[]>();
    for (const record of records) {
      const message: Message = { key: record.key, value: record.value };
      const messages = messagesByTopic.get(record.topic);
      if (messages === undefined) messagesByTopic.set(record.topic, [message]);
      else messages.push(message);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...messagesByTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }
}
