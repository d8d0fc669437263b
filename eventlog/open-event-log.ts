import { join } from "node:path";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { kafkaFromBrokers } from "./kafka/client.ts";
import { ensureTopics } from "./kafka/ensure-topics.ts";
import { KafkaBatchSender } from "./kafka/kafka-batch-sender.ts";
import { openKafkaFollower } from "./kafka/kafka-follower.ts";
import { openKafkaReplay } from "./kafka/kafka-replay.ts";
import { KafkaSink, type KafkaSinkOptions } from "./kafka/kafka-sink.ts";
import { KafkaSource } from "./kafka/kafka-source.ts";
import { openLocalFollower } from "./local/local-follower.ts";
import { LocalLogSink, type LocalLogSinkOptions } from "./local/local-log-sink.ts";
import { LocalLogSource } from "./local/local-log-source.ts";
import { openLocalReplay } from "./local/local-replay.ts";
import { defaultEventLogLogger } from "./logger.ts";
import { OutboxMetrics } from "./outbox/outbox-metrics.ts";
import { OutboxSink } from "./outbox/outbox-sink.ts";
import type { EventSink, EventSource, ReplaySource } from "./ports.ts";
import type { RecordWriter } from "./record-writer.ts";

export interface EventLogOptions {
  /** `KAFKA_BROKERS` ("host:port,host:port"): when set, the log is Kafka; otherwise the local log. */
  kafkaBrokers?: string;
  /** Root of the local log (`./data/events` in embedded mode). */
  localDirectory: string;
  /**
   * Kafka only: root of the outboxes (`./data/outbox`). A sink created with
   * `{ outbox: name }` spools to `<outboxDirectory>/<name>` while Kafka is
   * unreachable. Required for such sinks.
   */
  outboxDirectory?: string;
  /** kafkajs client id. Default "switchboard". */
  clientId?: string;
  logger?: Logger;
  /** Where the outbox reports its metrics. */
  metrics?: Registry;
  /** How every source this log creates batches records for its handler. */
  batching?: {
    /** Default 20,000 (Kafka), 10,000 (local). */
    maxBatchRecords?: number;
    /** Default 16 MiB. */
    maxBatchBytes?: number;
    /** Default 500 ms (Kafka: the fetch's wait at the broker), 0 (local). */
    maxBatchWaitMilliseconds?: number;
  };
  local?: Omit<LocalLogSinkOptions, "directory" | "logger"> & {
    /** Reader: wait between looks when caught up. Default 50 ms. */
    pollIntervalMilliseconds?: number;
  };
  /** Kafka: partitions of the topics it creates. Default 3. */
  partitions?: number;
  /** Kafka: replication factor of the topics it creates. Default 1. */
  replicationFactor?: number;
  kafka?: Omit<KafkaSinkOptions, "logger"> & {
    /** Create missing Switchboard topics before the first sink or source. Default true. */
    ensureTopics?: boolean;
    /** Heartbeat interval of sources. Default 3 s. */
    heartbeatIntervalMilliseconds?: number;
    /** Session timeout of sources. Default 30 s. */
    sessionTimeoutMilliseconds?: number;
  };
  outbox?: {
    /** Default 1 GiB. */
    maxSpoolBytes?: number;
    /** Default 100,000. */
    maxMemoryEvents?: number;
    /** A direct send to Kafka not acknowledged by then goes to the spool. Default 5 s. */
    sendTimeoutMilliseconds?: number;
    /** First wait after a failed drain. Default 500 ms. */
    retryDelayMilliseconds?: number;
    /** Default 10 s. */
    closeDrainMilliseconds?: number;
  };
}

export interface EventLog {
  readonly kind: "kafka" | "local";
  /**
   * A writer. Plain (no `outbox`): `flush` means durable in the log itself,
   * and rejects while the log is unreachable. With `outbox` on Kafka: an
   * `OutboxSink` spooling to `<outboxDirectory>/<outbox>`, whose `flush` means
   * in Kafka or in the spool, and which starts even while Kafka is down. The
   * local log is its own durable store, so `outbox` changes nothing there.
   */
  createSink(options?: { outbox?: string }): Promise<EventSink>;
  createSource(group: string, topics: string[]): Promise<EventSource>;
  /**
   * A reader in a group of its own that starts where the group `after` has
   * committed, so it sees what that group has not stored yet and everything
   * after. The gateway follows its fleet's completions and budget alerts from
   * where ingest has stored on (see gateway/fleet-spend.ts). Kafka: a new
   * group per call (`switchboard-follow-<name>-…`), removed at close; the
   * local log: `switchboard-follow-<name>`, set to `after`'s positions.
   */
  openFollower(topics: string[], options: { after: string; name: string }): Promise<EventSource>;
  /**
   * A one-off source for `switchboard replay` (see ReplaySource). `from`:
   * Kafka starts at the first record sent at or after it; the local log keeps
   * no time index and refuses it (LocalReplayFromError) rather than replay
   * everything while the caller believes it asked for less.
   */
  openReplay(topics: string[], options?: { from?: Date }): Promise<ReplaySource>;
}

/** `replay --from` on the local log, which keeps no time index to start from. */
export class LocalReplayFromError extends Error {
  override name = "LocalReplayFromError";
  constructor() {
    super(
      "replay --from needs Kafka (kafka_brokers): the local event log keeps no time index to start from. Replay without --from: it reads the whole log, and events the tables already hold are left out, so nothing counts twice.",
    );
  }
}

/** The event log the configuration asks for: Kafka when brokers are given, else the local segment log. */
export function openEventLog(options: EventLogOptions): EventLog {
  const logger = options.logger ?? defaultEventLogLogger();
  const batching = options.batching ?? {};
  const kafkaBrokers = options.kafkaBrokers?.trim();
  if (!kafkaBrokers) {
    const { pollIntervalMilliseconds, ...sinkOptions } = options.local ?? {};
    const sourceOptions = {
      directory: options.localDirectory,
      maxBatchRecords: batching.maxBatchRecords,
      maxBatchBytes: batching.maxBatchBytes,
      maxBatchWaitMilliseconds: batching.maxBatchWaitMilliseconds,
      pollIntervalMilliseconds,
      logger,
    };
    return {
      kind: "local",
      createSink: () =>
        LocalLogSink.open({ ...sinkOptions, directory: options.localDirectory, logger }),
      createSource: async (group, topics) =>
        new LocalLogSource({ ...sourceOptions, topics, group }),
      openFollower: (topics, { after, name }) =>
        openLocalFollower(topics, {
          ...sourceOptions,
          directory: options.localDirectory,
          after,
          name,
        }),
      openReplay: async (topics, { from } = {}) => {
        if (from) throw new LocalReplayFromError();
        return openLocalReplay(topics, sourceOptions);
      },
    };
  }
  const {
    ensureTopics: shouldEnsureTopics,
    heartbeatIntervalMilliseconds,
    sessionTimeoutMilliseconds,
    ...sinkOptions
  } = options.kafka ?? {};
  const kafka = kafkaFromBrokers(kafkaBrokers, options.clientId ?? "switchboard", { logger });
  let topicsReady: Promise<unknown> | undefined;
  // Once per log, shared by every sink and source; a failure is retried by the next caller.
  const ensureTopicsOnce = (): Promise<unknown> => {
    if (shouldEnsureTopics === false) return Promise.resolve();
    topicsReady ??= ensureTopics(kafkaBrokers, {
      logger,
      partitions: options.partitions,
      replicationFactor: options.replicationFactor,
      // Fail within seconds when Kafka is down; the caller retries.
      retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
    }).catch((error: unknown) => {
      topicsReady = undefined;
      throw error;
    });
    return topicsReady;
  };
  const sourceOptions = {
    maxBatchRecords: batching.maxBatchRecords,
    maxBatchBytes: batching.maxBatchBytes,
    maxBatchWaitMilliseconds: batching.maxBatchWaitMilliseconds,
    heartbeatIntervalMilliseconds,
    sessionTimeoutMilliseconds,
    logger,
  };
  return {
    kind: "kafka",
    createSink: async ({ outbox } = {}) => {
      if (outbox === undefined) {
        await ensureTopicsOnce();
        return KafkaSink.connect(kafka, { ...sinkOptions, logger });
      }
      if (options.outboxDirectory === undefined) {
        throw new Error(`an outbox sink ("${outbox}") needs EventLogOptions.outboxDirectory`);
      }
      const outboxOptions = options.outbox ?? {};
      const sender = new KafkaBatchSender(kafka, {
        logger,
        sendTimeoutMilliseconds: outboxOptions.sendTimeoutMilliseconds ?? 5_000,
      });
      // The topics are made on the first send, not at start-up, so the gateway
      // starts (and spools) while Kafka is down.
      const kafkaWriter: RecordWriter = {
        async write(records) {
          await ensureTopicsOnce();
          await sender.write(records);
        },
        close: () => sender.close(),
      };
      return OutboxSink.open({
        directory: join(options.outboxDirectory, outbox),
        primary: kafkaWriter,
        maxSpoolBytes: outboxOptions.maxSpoolBytes,
        maxMemoryEvents: outboxOptions.maxMemoryEvents,
        retryDelayMilliseconds: outboxOptions.retryDelayMilliseconds,
        closeDrainMilliseconds: outboxOptions.closeDrainMilliseconds,
        lingerMilliseconds: sinkOptions.lingerMilliseconds,
        maxBatchRecords: sinkOptions.maxBatchRecords,
        maxBatchBytes: sinkOptions.maxBatchBytes,
        metrics: options.metrics ? OutboxMetrics.for(options.metrics) : undefined,
        logger,
      });
    },
    createSource: async (group, topics) => {
      await ensureTopicsOnce();
      return new KafkaSource(kafka, { ...sourceOptions, group, topics });
    },
    openFollower: async (topics, { after, name }) => {
      await ensureTopicsOnce();
      return openKafkaFollower(kafka, topics, { ...sourceOptions, after, name });
    },
    openReplay: async (topics, { from } = {}) => {
      await ensureTopicsOnce();
      return openKafkaReplay(kafka, topics, { ...sourceOptions, from });
    },
  };
}
