export { type KafkaClientOptions, kafkaFromBrokers, parseBrokers } from "./kafka/client.ts";
export {
  type EnsureTopicsOptions,
  ensureTopics,
  switchboardTopics,
} from "./kafka/ensure-topics.ts";
export { KafkaSink, type KafkaSinkOptions } from "./kafka/kafka-sink.ts";
export { KafkaSource, type KafkaSourceOptions } from "./kafka/kafka-source.ts";
export {
  DEFAULT_LOCAL_LOG_DIRECTORY,
  DEFAULT_SEGMENT_BYTES,
  LocalLogSink,
  type LocalLogSinkOptions,
} from "./local/local-log-sink.ts";
export { LocalLogSource, type LocalLogSourceOptions } from "./local/local-log-source.ts";
export { type EventLog, type EventLogOptions, openEventLog } from "./open-event-log.ts";
export type { EventSink, EventSource, LogRecord } from "./ports.ts";
export { DroppedRecordsError } from "./record-batcher.ts";
