import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import { topicFor } from "../../events/topics.ts";
import { defaultEventLogLogger } from "../logger.ts";
import type { EventSink } from "../ports.ts";
import { PartialDeliveryError, type PendingRecord, RecordBatcher } from "../record-batcher.ts";
import { assertLegalName } from "../topic-names.ts";
import { encodeRecordLine } from "./record-line.ts";
import { listSegments, makeDirectoryDurably } from "./segment-files.ts";
import {
  AppendError,
  acquireTopicAppender,
  releaseTopicAppender,
  type TopicAppender,
} from "./topic-appender.ts";

export const DEFAULT_LOCAL_LOG_DIRECTORY = "./data/events";
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export interface LocalLogSinkOptions {
  /** Root of the log: one folder per topic. Default `./data/events`. */
  directory?: string;
  /** A segment rolls before it would pass this size. Default 64 MiB. */
  segmentBytes?: number;
  /** How long the first buffered record waits for others to share its fsync. Default 5 ms. */
  lingerMilliseconds?: number;
  /** A batch is written as soon as this many records wait. Default 4,096. */
  maxBatchRecords?: number;
  /** After a failed write, the retry comes this long after. Default 1 s. */
  retryDelayMilliseconds?: number;
  logger?: Logger;
}

/**
 * The embedded event log's writer. `publish` and `append` only buffer; the
 * buffer goes to disk in batches, each written then fsync'd before `flush`
 * resolves for it, so `flush` means "on disk and surviving a power cut".
 * A failed write keeps its records buffered (in order) and retries them;
 * nothing is dropped, so a disk that stays broken grows memory and every
 * `flush` rejects, loudly, until it is fixed.
 */
export class LocalLogSink implements EventSink {
  readonly directory: string;
  private readonly segmentBytes: number;
  private readonly logger: Logger;
  private readonly batcher: RecordBatcher;
  private readonly appenders = new Map<string, Promise<TopicAppender>>();
  /** Topic names already found legal, so the check costs one lookup per event. */
  private readonly checkedTopics = new Set<string>();
  private closed = false;

  private constructor(options: LocalLogSinkOptions) {
    this.directory = options.directory ?? DEFAULT_LOCAL_LOG_DIRECTORY;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.logger = options.logger ?? defaultEventLogLogger();
    this.batcher = new RecordBatcher({
      name: `local log ${this.directory}`,
      deliver: (records) => this.writeBatch(records),
      lingerMilliseconds: options.lingerMilliseconds ?? 5,
      maxBatchRecords: options.maxBatchRecords ?? 4_096,
      // Local disk has no request size limit; this only keeps one write's buffer modest.
      maxBatchBytes: 16 * 1024 * 1024,
      retryDelayMilliseconds: options.retryDelayMilliseconds ?? 1_000,
      maxBufferedRecords: Number.POSITIVE_INFINITY,
      logger: this.logger,
    });
  }

  /**
   * Opens the log for writing. Every topic already on disk is opened now, so a
   * torn last line from a crash is cut off before anything else happens and
   * the offsets continue after the last complete record.
   */
  static async open(options: LocalLogSinkOptions = {}): Promise<LocalLogSink> {
    const sink = new LocalLogSink(options);
    await makeDirectoryDurably(sink.directory);
    const entries = await readdir(sink.directory, { withFileTypes: true });
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      if ((await listSegments(join(sink.directory, entry.name))).length === 0) continue;
      await sink.appenderFor(entry.name);
    }
    return sink;
  }

  publish(event: SwitchboardEvent): void {
    this.append(topicFor(event.event_type), event.request_id, JSON.stringify(event));
  }

  append(topic: string, key: string, value: string): void {
    if (this.closed) throw new Error(`local log sink ${this.directory} is closed`);
    if (!this.checkedTopics.has(topic)) {
      assertLegalName("topic", topic);
      this.checkedTopics.add(topic);
    }
    this.batcher.add({ topic, key, value });
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  /** Flushes what is buffered, then closes the files; rejects if the last flush failed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.batcher.flush();
    } catch (error) {
      this.logger.error(
        { err: error, records: this.batcher.bufferedCount },
        "local log: closing with records that could not be written; they are LOST",
      );
      throw error;
    } finally {
      this.batcher.stop();
      const topics = [...this.appenders.keys()];
      this.appenders.clear();
      await Promise.all(topics.map((topic) => releaseTopicAppender(join(this.directory, topic))));
    }
  }

  private appenderFor(topic: string): Promise<TopicAppender> {
    let appender = this.appenders.get(topic);
    if (appender === undefined) {
      appender = acquireTopicAppender(join(this.directory, topic), this.segmentBytes, this.logger);
      this.appenders.set(topic, appender);
      // Forget a failed open so the retry opens again (and is not released twice).
      appender.catch(() => this.appenders.delete(topic));
    }
    return appender;
  }

  /**
   * Topics are written in parallel, each in order. A topic whose write failed
   * sends back only its lines that are not yet durable, so a retry never
   * writes a record twice.
   */
  private async writeBatch(records: PendingRecord[]): Promise<void> {
    const recordsByTopic = new Map<string, PendingRecord[]>();
    for (const record of records) {
      const topicRecords = recordsByTopic.get(record.topic);
      if (topicRecords === undefined) recordsByTopic.set(record.topic, [record]);
      else topicRecords.push(record);
    }
    const undelivered: PendingRecord[] = [];
    let firstError: unknown;
    await Promise.all(
      [...recordsByTopic].map(async ([topic, topicRecords]) => {
        try {
          const appender = await this.appenderFor(topic);
          await appender.append(
            topicRecords.map((record) => encodeRecordLine(record.key, record.value)),
          );
        } catch (error) {
          const appended = error instanceof AppendError ? error.appendedLines : 0;
          undelivered.push(...topicRecords.slice(appended));
          firstError ??= error instanceof AppendError ? error.cause : error;
        }
      }),
    );
    if (undelivered.length > 0) {
      // Back in the order they were added, so the retry keeps each topic's order.
      const position = new Map(records.map((record, index) => [record, index]));
      undelivered.sort((left, right) => (position.get(left) ?? 0) - (position.get(right) ?? 0));
      throw new PartialDeliveryError(undelivered, { cause: firstError });
    }
  }
}
