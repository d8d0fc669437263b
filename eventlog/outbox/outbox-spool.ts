import { join } from "node:path";
import type { Logger } from "pino";
import { readCommittedPosition, writeCommittedPosition } from "../local/committed-position.ts";
import { LocalLogWriter } from "../local/local-log-writer.ts";
import { deleteSegmentsBefore, segmentBytesOnDisk } from "../local/segment-files.ts";
import { TopicReader } from "../local/topic-reader.ts";
import { PartialDeliveryError, type PendingRecord } from "../record-batcher.ts";

/** The drain's position in each spooled topic: `<topic>/.consumers/kafka-drain`. */
const DRAIN_POSITION = "kafka-drain";

/** A run of one topic's spooled records, oldest first, handed out to be sent. */
export interface SpoolChunk {
  topic: string;
  records: PendingRecord[];
  /** The offset after the chunk's last record: the drain position once it is acknowledged. */
  nextOffset: number;
}

/**
 * The outbox's spool: a local segment log of its own (one folder per Kafka
 * topic) read back by a drain position per topic. A record is in the spool
 * from the moment `write` resolves (written and fsync'd) until `acknowledge`
 * has durably moved the drain position past it; segments wholly behind the
 * position are deleted then, which keeps the spool's size bounded by what
 * Kafka has not yet acknowledged.
 */
export class OutboxSpool {
  private readonly readers = new Map<string, TopicReader>();
  /** Topics known to hold records, in the order the drain visits them. */
  private readonly topics: string[] = [];
  private nextTopicIndex = 0;
  private pending = 0;
  private bytesAtOpen = 0;
  private freedBytes = 0;
  private acknowledgedBytes = 0;
  private completedWrites = 0;
  private writesInFlight = 0;

  private constructor(
    private readonly writer: LocalLogWriter,
    private readonly logger: Logger,
  ) {}

  static async open(options: {
    directory: string;
    segmentBytes: number;
    logger: Logger;
  }): Promise<OutboxSpool> {
    const writer = await LocalLogWriter.open(options);
    const spool = new OutboxSpool(writer, options.logger);
    for (const topic of await writer.topicsOnDisk()) {
      const topicDirectory = join(writer.directory, topic);
      const drained = await readCommittedPosition(topicDirectory, DRAIN_POSITION);
      spool.pending += Math.max(0, (await writer.endOffset(topic)) - drained);
      spool.bytesAtOpen += await segmentBytesOnDisk(topicDirectory);
      spool.topics.push(topic);
    }
    return spool;
  }

  get directory(): string {
    return this.writer.directory;
  }

  /** Records in the spool that Kafka has not acknowledged. */
  get depth(): number {
    return this.pending;
  }

  /** Bytes of the spool's segment files on disk. */
  get bytes(): number {
    return Math.max(0, this.bytesAtOpen + this.writer.bytesWritten - this.freedBytes);
  }

  /**
   * Bytes of the records Kafka has not acknowledged: what the size bound
   * holds to. Disk use is this plus, per topic, the drained part of the
   * segment still being written (deleted once it rolls). Counted from the
   * files at open, so after a restart it errs high until the spool empties.
   */
  get pendingBytes(): number {
    if (this.pending === 0) return 0;
    return Math.max(0, this.bytesAtOpen + this.writer.bytesWritten - this.acknowledgedBytes);
  }

  /**
   * Counts writes that have settled. A drain that found nothing to hand out
   * and sees this unchanged, with no write in flight, knows the spool is empty.
   */
  get writesSettled(): number {
    return this.completedWrites;
  }

  get writing(): boolean {
    return this.writesInFlight > 0;
  }

  /** Resolves once every record is written and fsync'd (see LocalLogWriter.write). */
  async write(records: PendingRecord[]): Promise<void> {
    this.writesInFlight += 1;
    try {
      await this.writer.write(records);
      this.pending += records.length;
    } catch (error) {
      if (error instanceof PartialDeliveryError) {
        this.pending += records.length - error.undelivered.length;
      }
      throw error;
    } finally {
      this.writesInFlight -= 1;
      this.completedWrites += 1;
      for (const record of records) this.remember(record.topic);
    }
  }

  /**
   * The next run of spooled records not yet handed out, taking topics in turn
   * so none starves; undefined when every written record has been handed out.
   * Only one chunk may be out at a time: acknowledge or rewind it first.
   */
  async next(maxRecords: number, maxBytes: number): Promise<SpoolChunk | undefined> {
    for (let visited = 0; visited < this.topics.length; visited += 1) {
      const topic = this.topics[this.nextTopicIndex] as string;
      this.nextTopicIndex = (this.nextTopicIndex + 1) % this.topics.length;
      const reader = await this.readerFor(topic);
      const read = await reader.read(maxRecords, maxBytes);
      if (read.length === 0) continue;
      return {
        topic,
        records: read.map((record) => ({
          topic,
          key: record.key ?? "",
          value: record.value.toString("utf8"),
        })),
        nextOffset: reader.nextOffset,
      };
    }
    return undefined;
  }

  /**
   * Kafka has the chunk: move the drain position past it (fsync'd, then
   * renamed into place) and only then delete the segments it completed.
   * A crash before the position is durable sends the chunk again.
   */
  async acknowledge(chunk: SpoolChunk): Promise<void> {
    const topicDirectory = join(this.writer.directory, chunk.topic);
    await writeCommittedPosition(topicDirectory, DRAIN_POSITION, chunk.nextOffset);
    this.pending -= chunk.records.length;
    for (const record of chunk.records) {
      // A line is key TAB value LF (escapes aside, which only make this err high).
      this.acknowledgedBytes += Buffer.byteLength(record.key) + Buffer.byteLength(record.value) + 2;
    }
    if (this.pending === 0) {
      // Empty: start the count afresh, so the estimate's error never piles up.
      this.acknowledgedBytes = this.bytesAtOpen + this.writer.bytesWritten;
    }
    this.freedBytes += await deleteSegmentsBefore(topicDirectory, chunk.nextOffset);
  }

  /** Kafka did not take the chunk: its topic is read again from the drain position. */
  async rewind(chunk: SpoolChunk): Promise<void> {
    const reader = this.readers.get(chunk.topic);
    this.readers.delete(chunk.topic);
    await reader?.close();
  }

  async close(): Promise<void> {
    const readers = [...this.readers.values()];
    this.readers.clear();
    await Promise.all(readers.map((reader) => reader.close()));
    await this.writer.close();
  }

  private remember(topic: string): void {
    if (!this.topics.includes(topic)) this.topics.push(topic);
  }

  private async readerFor(topic: string): Promise<TopicReader> {
    let reader = this.readers.get(topic);
    if (reader === undefined) {
      const topicDirectory = join(this.writer.directory, topic);
      const drained = await readCommittedPosition(topicDirectory, DRAIN_POSITION);
      reader = new TopicReader(topic, topicDirectory, drained, this.logger);
      this.readers.set(topic, reader);
    }
    return reader;
  }
}
