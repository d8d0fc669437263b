import { join, resolve } from "node:path";
import type { Logger } from "pino";
import { defaultEventLogLogger } from "../logger.ts";
import type { EventSource, LogRecord } from "../ports.ts";
import { assertLegalName } from "../topic-names.ts";
import { readCommittedPosition, writeCommittedPosition } from "./committed-position.ts";
import { DEFAULT_LOCAL_LOG_DIRECTORY } from "./local-log-sink.ts";
import { TopicReader } from "./topic-reader.ts";

export interface LocalLogSourceOptions {
  /** Root of the log, as given to the sink. Default `./data/events`. */
  directory?: string;
  topics: string[];
  /** Consumer group: each group keeps its own committed position per topic. */
  group: string;
  /** Most records handed to the handler at once, across topics. Default 10,000. */
  maxBatchRecords?: number;
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
  private readonly pollIntervalMilliseconds: number;
  private readonly logger: Logger;
  private running: Promise<void> | undefined;
  private closing = false;
  private wakeUp: (() => void) | undefined;

  constructor(options: LocalLogSourceOptions) {
    if (options.topics.length === 0) throw new Error("local log source needs at least one topic");
    for (const topic of options.topics) assertLegalName("topic", topic);
    assertLegalName("consumer group", options.group);
    this.directory = options.directory ?? DEFAULT_LOCAL_LOG_DIRECTORY;
    this.topics = [...new Set(options.topics)];
    this.group = options.group;
    this.maxBatchRecords = options.maxBatchRecords ?? 10_000;
    this.pollIntervalMilliseconds = options.pollIntervalMilliseconds ?? 50;
    this.logger = options.logger ?? defaultEventLogLogger();
  }

  start(handler: (records: LogRecord[]) => Promise<void>): Promise<void> {
    if (this.running !== undefined) return Promise.reject(new Error("source already started"));
    if (this.closing) return Promise.reject(new Error("source is closed"));
    this.running = this.run(handler);
    return this.running;
  }

  /** Stops after the batch in hand (if any) is handled and committed; then `start` resolves. */
  async close(): Promise<void> {
    this.closing = true;
    this.wakeUp?.();
    // start() reports the outcome; close only waits for it.
    await this.running?.catch(() => {});
  }

  private async run(handler: (records: LogRecord[]) => Promise<void>): Promise<void> {
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
      let firstTopic = 0;
      while (!this.closing) {
        const records: LogRecord[] = [];
        for (let index = 0; index < readers.length; index += 1) {
          const remaining = this.maxBatchRecords - records.length;
          if (remaining <= 0) break;
          const reader = readers[(firstTopic + index) % readers.length] as TopicReader;
          const read = await reader.read(remaining);
          for (const record of read) records.push(record);
        }
        firstTopic = (firstTopic + 1) % readers.length;
        if (records.length === 0) {
          await this.sleep();
          continue;
        }
        // handler stores the batch → only then the positions are committed. A
        // crash or a rejecting handler in between leaves the old positions, so
        // the batch comes again (at least once) and is never skipped.
        await handler(records);
        await this.commit(readers, records);
      }
    } finally {
      await Promise.all(readers.map((reader) => reader.close()));
      for (const memberKey of memberKeys) activeMembers.delete(memberKey);
    }
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

  private sleep(): Promise<void> {
    return new Promise((resolveSleep) => {
      const timer = setTimeout(finish, this.pollIntervalMilliseconds);
      function finish(): void {
        clearTimeout(timer);
        resolveSleep();
      }
      this.wakeUp = finish;
    });
  }
}
