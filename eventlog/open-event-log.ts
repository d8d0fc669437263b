import type { Logger } from "pino";
import { kafkaFromBrokers } from "./kafka/client.ts";
import { ensureTopics } from "./kafka/ensure-topics.ts";
import { KafkaSink, type KafkaSinkOptions } from "./kafka/kafka-sink.ts";
import { KafkaSource } from "./kafka/kafka-source.ts";
import { LocalLogSink, type LocalLogSinkOptions } from "./local/local-log-sink.ts";
import { LocalLogSource } from "./local/local-log-source.ts";
import { defaultEventLogLogger } from "./logger.ts";
import type { EventSink, EventSource } from "./ports.ts";

export interface EventLogOptions {
  /** `KAFKA_BROKERS` ("host:port,host:port"): when set, the log is Kafka; otherwise the local log. */
  kafkaBrokers?: string;
  /** Root of the local log (`./data/events` in embedded mode). */
  localDirectory: string;
  /** kafkajs client id. Default "switchboard". */
  clientId?: string;
  logger?: Logger;
  local?: Omit<LocalLogSinkOptions, "directory" | "logger"> & {
    /** Reader: most records per batch. Default 10,000. */
    maxBatchRecords?: number;
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
  };
}

export interface EventLog {
  readonly kind: "kafka" | "local";
  createSink(): Promise<EventSink>;
  createSource(group: string, topics: string[]): Promise<EventSource>;
}

/** The event log the configuration asks for: Kafka when brokers are given, else the local segment log. */
export function openEventLog(options: EventLogOptions): EventLog {
  const logger = options.logger ?? defaultEventLogLogger();
  const kafkaBrokers = options.kafkaBrokers?.trim();
  if (!kafkaBrokers) {
    const local = options.local ?? {};
    return {
      kind: "local",
      createSink: () => LocalLogSink.open({ ...local, directory: options.localDirectory, logger }),
      createSource: async (group, topics) =>
        new LocalLogSource({
          directory: options.localDirectory,
          topics,
          group,
          maxBatchRecords: local.maxBatchRecords,
          pollIntervalMilliseconds: local.pollIntervalMilliseconds,
          logger,
        }),
    };
  }
  const kafkaOptions = options.kafka ?? {};
  const kafka = kafkaFromBrokers(kafkaBrokers, options.clientId ?? "switchboard", { logger });
  let topicsReady: Promise<unknown> | undefined;
  // Once per log, shared by every sink and source; a failure is retried by the next caller.
  const ensureTopicsOnce = (): Promise<unknown> => {
    if (kafkaOptions.ensureTopics === false) return Promise.resolve();
    topicsReady ??= ensureTopics(kafkaBrokers, {
      logger,
      partitions: options.partitions,
      replicationFactor: options.replicationFactor,
    }).catch((error: unknown) => {
      topicsReady = undefined;
      throw error;
    });
    return topicsReady;
  };
  return {
    kind: "kafka",
    createSink: async () => {
      await ensureTopicsOnce();
      const { ensureTopics: _ensureTopics, ...sinkOptions } = kafkaOptions;
      return KafkaSink.connect(kafka, { ...sinkOptions, logger });
    },
    createSource: async (group, topics) => {
      await ensureTopicsOnce();
      return new KafkaSource(kafka, { group, topics, logger });
    },
  };
}
