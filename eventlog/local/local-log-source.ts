import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { defaultEventLogLogger } from "../logger.ts";
import type { BatchHandler, EventSource, LogRecord, PartitionLag } from "../ports.ts";
import { assertLegalName } from "../topic-names.ts";
import { readCommittedPosition, writeCommittedPosition } from "./committed-position.ts";
import { DEFAULT_LOCAL_LOG_DIRECTORY } from "./local-log-sink.ts";
import { endOffsetOf, type RecordCountCursor } from "./segment-files.ts";
import { TopicReader } from "./topic-reader.ts";

export interface LocalLogSourceOptions {
  /** Root of the log, as given to the sink. Default `./data/events`. */
  directory?: string;
  topics: string[];
  /** Consumer group: each group keeps its own committed position per topic. */
  group: string;
  /** Most records handed to the handler at once, across topics. Default 10,000. */
  maxBatchRecords?: number;
  /** Most bytes of keys and values handed to the handler at once (at least one record). Default 16 MiB. */
  maxBatchBytes?: number;
  /**
   * A batch that is not full yet waits this long after its first record for
   * more before it goes to the handler. Default 0: whatever is there.
   */
  maxBatchWaitMilliseconds?: number;
  /** How long to wait before looking again when every topic is caught up. Default 50 ms. */
  pollIntervalMilliseconds?: number;
  logger?: Logger;
}

/** Group members active in this process, by directory, topic and group: a second would double-deliver. */
const activeMembers = new Set<string>();

/**
 * The embedded event log's reader: one member per group (the local log has a
 * single partition per topic, so there is nothing to share out). Batches mix
 * topics, starting from a different topic each time so none starves.
 *
 * It reads what the writer has written, which may be a few milliseconds ahead
 * of its fsync. A process crash loses nothing (the page cache survives it); an
 * OS crash can lose lines a reader already handed out, which TopicReader
 * notices and logs when it resumes.
 */
export class LocalLogSource implements EventSource {
  private readonly directory: string;
  private readonly topics: string[];
  private readonly group: string;
  private readonly maxBatchRecords: number;
  private readonly maxBatchBytes: number;
  private readonly maxBatchWaitMilliseconds: number;
  private readonly pollIntervalMilliseconds: number;
  private readonly logger: Logger;
  private running: Promise<void> | undefined;
  private closing = false;
  private wakeUp: (() => void) | undefined;
  private batchAbort: AbortController | undefined;
  private readonly endCursors = new Map<string, RecordCountCursor>();

  constructor(options: LocalLogSourceOptions) {
    if (options.topics.length === 0) throw new Error("local log source needs at least one topic");
    for (const topic of options.topics) assertLegalName("topic", topic);
    assertLegalName("consumer group", options.group);
    this.directory = options.directory ?? DEFAULT_LOCAL_LOG_DIRECTORY;
    this.topics = [...new Set(options.topics)];
    this.group = options.group;
    this.maxBatchRecords = options.maxBatchRecords ?? 10_000;
    this.maxBatchBytes = options.maxBatchBytes ?? 16 * 1024 * 1024;
    this.maxBatchWaitMilliseconds = options.maxBatchWaitMilliseconds ?? 0;
    this.pollIntervalMilliseconds = options.pollIntervalMilliseconds ?? 50;
    this.logger = options.logger ?? defaultEventLogLogger();
  }

  start(handler: BatchHandler): Promise<void> {
    if (this.running !== undefined) return Promise.reject(new Error("source already started"));
    if (this.closing) return Promise.reject(new Error("source is closed"));
    this.running = this.run(handler);
    return this.running;
  }

  /** Aborts the batch in the handler, commits it if it was stored anyway, and stops; then `start` resolves. */
  async close(): Promise<void> {
    this.closing = true;
    this.batchAbort?.abort(new Error("the source is closing"));
    this.wakeUp?.();
    // start() reports the outcome; close only waits for it.
    await this.running?.catch(() => {});
  }

  /** Records written to each topic that the group has not committed (one partition, 0, per topic). */
  async lag(): Promise<PartitionLag[]> {
    const lags: PartitionLag[] = [];
    for (const topic of this.topics) {
      const topicDirectory = join(this.directory, topic);
      const cursor = await endOffsetOf(topicDirectory, this.endCursors.get(topic));
      this.endCursors.set(topic, cursor);
      const committed = await readCommittedPosition(topicDirectory, this.group);
      lags.push({
        topic,
        partition: 0,
        lag: Math.max(0, cursor.segment + cursor.records - committed),
      });
    }
    return lags;
  }

  private async run(handler: BatchHandler): Promise<void> {
    const memberKeys = this.topics.map((topic) =>
      JSON.stringify([resolve(this.directory), topic, this.group]),
    );
    const taken = memberKeys.find((memberKey) => activeMembers.has(memberKey));
    if (taken !== undefined) {
      throw new Error(
        `consumer group ${this.group} already has a reader of ${taken} in this process`,
      );
    }
    for (const memberKey of memberKeys) activeMembers.add(memberKey);
    const readers: TopicReader[] = [];
    try {
      for (const topic of this.topics) {
        const topicDirectory = join(this.directory, topic);
        const committed = await readCommittedPosition(topicDirectory, this.group);
        readers.push(new TopicReader(topic, topicDirectory, committed, this.logger));
      }
      const batch = { records: [] as LogRecord[], bytes: 0, firstReadAt: 0, nextTopic: 0 };
      while (!this.closing) {
        await this.readInto(readers, batch);
        if (batch.records.length === 0) {
          await this.sleep(this.pollIntervalMilliseconds);
          continue;
        }
        const full =
          batch.records.length >= this.maxBatchRecords || batch.bytes >= this.maxBatchBytes;
        const waited = Date.now() - batch.firstReadAt;
        if (!full && waited < this.maxBatchWaitMilliseconds) {
          // A batch not handed over when close() comes is not committed: it is read again.
          await this.sleep(
            Math.min(this.pollIntervalMilliseconds, this.maxBatchWaitMilliseconds - waited),
          );
          continue;
        }
        const records = batch.records;
        batch.records = [];
        batch.bytes = 0;
        // handler stores the batch → only then the positions are committed. A
        // crash or a rejecting handler in between leaves the old positions, so
        // the batch comes again (at least once) and is never skipped.
        const abort = new AbortController();
        this.batchAbort = abort;
        try {
          await handler(records, { signal: abort.signal });
        } catch (error) {
          // Given up because of close(): stop without committing, not a failure.
          if (abort.signal.aborted) return;
          throw error;
        } finally {
          this.batchAbort = undefined;
        }
        await this.commit(readers, records);
      }
    } finally {
      await Promise.all(readers.map((reader) => reader.close()));
      for (const memberKey of memberKeys) activeMembers.delete(memberKey);
    }
  }

  /** Adds what the readers have to the batch, up to its bounds, one topic after another in turn. */
  private async readInto(
    readers: TopicReader[],
    batch: { records: LogRecord[]; bytes: number; firstReadAt: number; nextTopic: number },
  ): Promise<void> {
    for (let index = 0; index < readers.length; index += 1) {
      const remainingRecords = this.maxBatchRecords - batch.records.length;
      const remainingBytes = this.maxBatchBytes - batch.bytes;
      if (remainingRecords <= 0 || remainingBytes <= 0) break;
      const reader = readers[(batch.nextTopic + index) % readers.length] as TopicReader;
      // The first record of a batch is always taken, however big.
      const read = await reader.read(
        remainingRecords,
        batch.records.length === 0 ? Number.POSITIVE_INFINITY : remainingBytes,
      );
      if (read.length > 0 && batch.records.length === 0) batch.firstReadAt = Date.now();
      for (const record of read) {
        batch.records.push(record);
        batch.bytes += record.value.length + (record.key?.length ?? 0);
      }
    }
    batch.nextTopic = (batch.nextTopic + 1) % readers.length;
  }

  /** Writes the position of each topic the batch advanced, durably (see writeCommittedPosition). */
  private async commit(readers: TopicReader[], records: LogRecord[]): Promise<void> {
    const advanced = new Set(records.map((record) => record.topic));
    await Promise.all(
      readers
        .filter((reader) => advanced.has(reader.topic))
        .map((reader) =>
          writeCommittedPosition(join(this.directory, reader.topic), this.group, reader.nextOffset),
        ),
    );
  }

  private sleep(milliseconds: number): Promise<void> {
    return new Promise((resolveSleep) => {
      const timer = setTimeout(finish, milliseconds);
      function finish(): void {
        clearTimeout(timer);
        resolveSleep();
      }
      this.wakeUp = finish;
    });
  }
}
