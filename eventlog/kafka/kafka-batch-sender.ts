import type { Kafka, Message, Producer } from "kafkajs";
import { Partitioners } from "kafkajs";
import type { Logger } from "pino";
import type { PendingRecord } from "../record-batcher.ts";
import type { RecordWriter } from "../record-writer.ts";

export interface KafkaBatchSenderOptions {
  /**
   * kafkajs's own retries of one request before `write` rejects. Default 4
   * (about 1.5 s of backoff): enough to ride out a partition leader that is
   * still being elected (a topic just created answers "not the leader" for a
   * moment, seen in CI), while the caller (a sink's batcher, or the outbox's
   * spool) owns the long retry, so a broker that is down is noticed in
   * seconds, not never (an idempotent kafkajs producer otherwise retries
   * forever).
   */
  requestRetries?: number;
  /** A `write` that has not been acknowledged by then rejects, and the producer is replaced. Default 30 s. */
  sendTimeoutMilliseconds?: number;
  logger: Logger;
}

/** Rejects a write that took longer than `sendTimeoutMilliseconds`; Kafka may still have stored it. */
export class SendTimeoutError extends Error {
  constructor(milliseconds: number) {
    super(`Kafka did not acknowledge the batch within ${milliseconds} ms`);
    this.name = "SendTimeoutError";
  }
}

/**
 * Sends a batch to Kafka as one request per broker from an idempotent producer
 * with acks from every in-sync replica, and resolves only when they have it.
 * The producer is made on first use, so the caller can start while Kafka is
 * down. After any failure the producer is thrown away: its retries in the
 * background stop, and the next write starts a fresh idempotent session
 * instead of one whose sequence numbers a restarted broker may refuse. A
 * batch that failed may still have reached Kafka; whoever resends it creates
 * a duplicate that ingest's idempotent load drops.
 */
export class KafkaBatchSender implements RecordWriter {
  private producer: Promise<Producer> | undefined;
  private closed = false;
  private readonly sendTimeoutMilliseconds: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaBatchSenderOptions,
  ) {
    this.sendTimeoutMilliseconds = options.sendTimeoutMilliseconds ?? 30_000;
  }

  /** Connects now, so a caller that needs Kafka at start-up finds out at once. */
  async connect(): Promise<void> {
    await this.connectedProducer();
  }

  async write(records: PendingRecord[]): Promise<void> {
    if (this.closed) throw new Error("kafka sender is closed");
    const producer = this.connectedProducer();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SendTimeoutError(this.sendTimeoutMilliseconds)),
        this.sendTimeoutMilliseconds,
      );
    });
    try {
      await Promise.race([producer.then((ready) => this.send(ready, records)), timeout]);
    } catch (error) {
      await this.discard(producer);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer.catch(() => undefined))?.disconnect();
  }

  /** One request for the whole batch; resolves when every in-sync replica has it (acks -1). */
  private async send(producer: Producer, records: PendingRecord[]): Promise<void> {
    const messagesByTopic = new Map<string, Message[]>();
    for (const record of records) {
      const message: Message = { key: record.key, value: record.value };
      const messages = messagesByTopic.get(record.topic);
      if (messages === undefined) messagesByTopic.set(record.topic, [message]);
      else messages.push(message);
    }
    await producer.sendBatch({
      acks: -1,
      topicMessages: [...messagesByTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  private connectedProducer(): Promise<Producer> {
    if (this.producer === undefined) {
      const producer = this.kafka.producer({
        // The broker drops a retried request it already has; kafkajs needs one
        // request in flight per broker for that (and for order).
        idempotent: true,
        maxInFlightRequests: 1,
        retry: {
          retries: this.options.requestRetries ?? 4,
          initialRetryTime: 100,
          maxRetryTime: 1_000,
        },
        // Explicit, so kafkajs does not warn about its v2 default change; this is
        // the Java client's murmur2 partitioner: a request id maps to one partition.
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
      });
      const connected = producer.connect().then(() => producer);
      this.producer = connected;
      connected.catch(() => this.discard(connected));
    }
    return this.producer;
  }

  private async discard(producer: Promise<Producer>): Promise<void> {
    if (this.producer === producer) this.producer = undefined;
    const ready = await producer.catch(() => undefined);
    await ready?.disconnect().catch((error: unknown) => {
      this.options.logger.debug({ err: error }, "kafka sender: disconnecting a failed producer");
    });
  }
}
