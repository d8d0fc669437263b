export { type KafkaClientOptions, kafkaFromBrokers, parseBrokers } from "./kafka/client.ts";
export {
  type EnsureTopicsOptions,
  ensureTopics,
  switchboardTopics,
} from "./kafka/ensure-topics.ts";
export {
  KafkaBatchSender,
  type KafkaBatchSenderOptions,
  SendTimeoutError,
} from "./kafka/kafka-batch-sender.ts";
export { KafkaSink, type KafkaSinkOptions } from "./kafka/kafka-sink.ts";
export { KafkaSource, type KafkaSourceOptions } from "./kafka/kafka-source.ts";
export {
  DEFAULT_LOCAL_LOG_DIRECTORY,
  DEFAULT_SEGMENT_BYTES,
  LocalLogSink,
  type LocalLogSinkOptions,
} from "./local/local-log-sink.ts";
export { LocalLogSource, type LocalLogSourceOptions } from "./local/local-log-source.ts";
export {
  type EventLog,
  type EventLogOptions,
  LocalReplayFromError,
  openEventLog,
} from "./open-event-log.ts";
export { OutboxMetrics, type OutboxState } from "./outbox/outbox-metrics.ts";
export { OutboxFullError, OutboxSink, type OutboxSinkOptions } from "./outbox/outbox-sink.ts";
export type {
  BatchContext,
  BatchHandler,
  EventSink,
  EventSource,
  LogRecord,
  PartitionLag,
  ReplaySource,
} from "./ports.ts";
export { DroppedRecordsError } from "./record-batcher.ts";
export type { RecordWriter } from "./record-writer.ts";
