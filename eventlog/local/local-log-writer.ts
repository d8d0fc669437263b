import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { PartialDeliveryError, type PendingRecord } from "../record-batcher.ts";
import type { RecordWriter } from "../record-writer.ts";
import { assertLegalName } from "../topic-names.ts";
import { encodeRecordLine } from "./record-line.ts";
import { listSegments, makeDirectoryDurably } from "./segment-files.ts";
import {
  AppendError,
  acquireTopicAppender,
  releaseTopicAppender,
  type TopicAppender,
} from "./topic-appender.ts";

export interface LocalLogWriterOptions {
  directory: string;
  /** A segment rolls before it would pass this size. */
  segmentBytes: number;
  logger: Logger;
}

/**
 * Writes batches into the local segment log now: each topic's lines are
 * appended, then fsync'd, before `write` resolves. The lower half of the local
 * log sink, and the outbox's spool.
 */
export class LocalLogWriter implements RecordWriter {
  readonly directory: string;
  private readonly appenders = new Map<string, Promise<TopicAppender>>();
  /** Topic names already found legal, so the check costs one lookup per record. */
  private readonly checkedTopics = new Set<string>();
  private writtenBytes = 0;

  private constructor(private readonly options: LocalLogWriterOptions) {
    this.directory = options.directory;
  }

  /**
   * Opens the log for writing. Every topic already on disk is opened now, so a
   * torn last line from a crash is cut off before anything else happens and
   * the offsets continue after the last complete record.
   */
  static async open(options: LocalLogWriterOptions): Promise<LocalLogWriter> {
    const writer = new LocalLogWriter(options);
    await makeDirectoryDurably(writer.directory);
    for (const topic of await writer.topicsOnDisk()) await writer.appenderFor(topic);
    return writer;
  }

  /** Throws unless `topic` is a legal name; cheap after the first call per topic. */
  checkTopic(topic: string): void {
    if (this.checkedTopics.has(topic)) return;
    assertLegalName("topic", topic);
    this.checkedTopics.add(topic);
  }

  /** The topics that have at least one segment. */
  async topicsOnDisk(): Promise<string[]> {
    const entries = await readdir(this.directory, { withFileTypes: true });
    const topics: string[] = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      if ((await listSegments(join(this.directory, entry.name))).length === 0) continue;
      topics.push(entry.name);
    }
    return topics;
  }

  /** Bytes of lines this writer has made durable since it opened. */
  get bytesWritten(): number {
    return this.writtenBytes;
  }

  /** The offset the topic's next record will get (0 for a topic never written). */
  async endOffset(topic: string): Promise<number> {
    return (await this.appenderFor(topic)).endOffset;
  }

  /**
   * Topics are written in parallel, each in order. A topic whose write failed
   * sends back only its lines that are not yet durable, so a retry never
   * writes a record twice.
   */
  async write(records: PendingRecord[]): Promise<void> {
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
        let lines: Buffer[] = [];
        try {
          this.checkTopic(topic);
          const appender = await this.appenderFor(topic);
          lines = topicRecords.map((record) => encodeRecordLine(record.key, record.value));
          await appender.append(lines);
          this.writtenBytes += byteLength(lines, lines.length);
        } catch (error) {
          const appended = error instanceof AppendError ? error.appendedLines : 0;
          this.writtenBytes += byteLength(lines, appended);
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

  /** Gives back this writer's appenders; the process's last user closes the files. */
  async close(): Promise<void> {
    const topics = [...this.appenders.keys()];
    this.appenders.clear();
    await Promise.all(topics.map((topic) => releaseTopicAppender(join(this.directory, topic))));
  }

  private appenderFor(topic: string): Promise<TopicAppender> {
    let appender = this.appenders.get(topic);
    if (appender === undefined) {
      appender = acquireTopicAppender(
        join(this.directory, topic),
        this.options.segmentBytes,
        this.options.logger,
      );
      this.appenders.set(topic, appender);
      // Forget a failed open so the retry opens again (and is not released twice).
      appender.catch(() => this.appenders.delete(topic));
    }
    return appender;
  }
}

function byteLength(lines: Buffer[], count: number): number {
  let bytes = 0;
  for (let index = 0; index < count; index += 1) bytes += (lines[index] as Buffer).length;
  return bytes;
}
