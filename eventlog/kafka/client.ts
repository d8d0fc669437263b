import { Kafka, type KafkaConfig, type LogEntry, logLevel, type RetryOptions } from "kafkajs";
import type { Logger } from "pino";
import { defaultEventLogLogger } from "../logger.ts";

export interface KafkaClientOptions {
  /** Where kafkajs's own log lines go (WARN and above). Default: a pino logger named "eventlog". */
  logger?: Logger;
  /** kafkajs retry policy for every request; bound it in tests that stop the broker. */
  retry?: RetryOptions;
  connectionTimeout?: number;
  requestTimeout?: number;
}

/** `"host1:9092,host2:9092"` or a list, as `KAFKA_BROKERS` gives it. */
export function parseBrokers(brokers: string[] | string): string[] {
  const list = (typeof brokers === "string" ? brokers.split(",") : brokers)
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
  if (list.length === 0) throw new Error("no Kafka brokers given");
  return list;
}

/**
 * The one place a kafkajs client is made, so every producer, consumer and
 * admin logs through pino at WARN and above instead of printing to the console.
 */
export function kafkaFromBrokers(
  brokers: string[] | string,
  clientId: string,
  options: KafkaClientOptions = {},
): Kafka {
  const logger = (options.logger ?? defaultEventLogLogger()).child({ component: "kafkajs" });
  const config: KafkaConfig = {
    clientId,
    brokers: parseBrokers(brokers),
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => logThroughPino(logger, entry),
  };
  if (options.retry) config.retry = options.retry;
  if (options.connectionTimeout !== undefined) config.connectionTimeout = options.connectionTimeout;
  if (options.requestTimeout !== undefined) config.requestTimeout = options.requestTimeout;
  return new Kafka(config);
}

/**
 * kafkajs warns on every idempotent producer with bounded retries. Ours are
 * bounded on purpose (KafkaBatchSender): a failed batch is retried by the
 * sink or the outbox, and a duplicate that makes is dropped by ingest.
 */
const EXPECTED_WARNINGS = new Set([
  "Limiting retries for the idempotent producer may invalidate EoS guarantees",
]);

function logThroughPino(logger: Logger, entry: LogEntry): void {
  const { message, timestamp: _timestamp, ...details } = entry.log;
  const fields = { namespace: entry.namespace, ...details };
  if (EXPECTED_WARNINGS.has(message)) {
    logger.debug(fields, message);
    return;
  }
  switch (entry.level) {
    case logLevel.ERROR:
      logger.error(fields, message);
      break;
    case logLevel.WARN:
      logger.warn(fields, message);
      break;
    case logLevel.INFO:
      logger.info(fields, message);
      break;
    default:
      logger.debug(fields, message);
  }
}
