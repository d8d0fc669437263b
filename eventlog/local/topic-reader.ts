// Reads one topic of the local log from a given offset, following the writer
// as it appends and rolls segments, whether that writer is in this process or
// another. Only complete lines (ending in LF) are handed out; a partial line
// is read again from its start on the next call, so bytes a crashed writer
// left half written, and later cut off, are never seen.
import { existsSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import type { Logger } from "pino";
import type { LogRecord } from "../ports.ts";
import { decodeRecordLine, LINE_FEED } from "./record-line.ts";
import { listSegments, scanLines, segmentPath } from "./segment-files.ts";

const INITIAL_READ_BYTES = 1024 * 1024;

interface OpenSegment {
  firstOffset: number;
  handle: FileHandle;
  /** Byte position of the line with offset `nextOffset`. */
  position: number;
}

export class TopicReader {
  private segment: OpenSegment | undefined;
  private readBytes = INITIAL_READ_BYTES;

  constructor(
    readonly topic: string,
    private readonly topicDirectory: string,
    /** Offset of the next record to hand out. */
    public nextOffset: number,
    private readonly logger: Logger,
  ) {}

  /**
   * Up to `maxRecords` complete records from `nextOffset` on, and no more than
   * `maxBytes` of keys and values (at least one record, however big); empty
   * when there is nothing new.
   */
  async read(maxRecords: number, maxBytes = Number.POSITIVE_INFINITY): Promise<LogRecord[]> {
    const records: LogRecord[] = [];
    const budget = { bytes: maxBytes };
    if (this.segment === undefined) this.segment = await this.locate();
    while (this.segment !== undefined && records.length < maxRecords && budget.bytes > 0) {
      const segment = this.segment;
      const size = (await segment.handle.stat()).size;
      const available = size - segment.position;
      if (
        available <= 0 ||
        !(await this.readLines(segment, available, maxRecords, budget, records))
      ) {
        // Nothing complete left here. The writer names a new segment after its
        // first offset only once this one is complete, so a segment named by
        // our next offset means this one is finished and reading moves on.
        if (!(await this.moveToNextSegment())) break;
      }
    }
    return records;
  }

  async close(): Promise<void> {
    await this.segment?.handle.close();
    this.segment = undefined;
  }

  /** Reads complete lines into `records`; false when not one complete line was there. */
  private async readLines(
    segment: OpenSegment,
    available: number,
    maxRecords: number,
    budget: { bytes: number },
    records: LogRecord[],
  ): Promise<boolean> {
    const length = Math.min(available, this.readBytes);
    // A fresh buffer per read: the records' values are views into it.
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await segment.handle.read(buffer, 0, length, segment.position);
    const chunk = buffer.subarray(0, bytesRead);
    let lineStart = 0;
    let lineEnd = chunk.indexOf(LINE_FEED);
    if (lineEnd < 0) {
      // One line longer than the read: read more next time, if it is complete.
      if (bytesRead === this.readBytes && available > this.readBytes) {
        this.readBytes *= 2;
        return true;
      }
      return false;
    }
    while (lineEnd >= 0 && records.length < maxRecords) {
      const lineBytes = lineEnd - lineStart;
      // The byte budget is spent by whole lines, and never stops the first record.
      if (records.length > 0 && lineBytes > budget.bytes) {
        budget.bytes = 0;
        break;
      }
      budget.bytes -= lineBytes;
      const { key, value } = decodeRecordLine(chunk.subarray(lineStart, lineEnd));
      records.push({
        topic: this.topic,
        partition: 0,
        offset: String(this.nextOffset),
        key,
        value,
      });
      this.nextOffset += 1;
      lineStart = lineEnd + 1;
      lineEnd = chunk.indexOf(LINE_FEED, lineStart);
    }
    segment.position += lineStart;
    return true;
  }

  private async moveToNextSegment(): Promise<boolean> {
    const current = this.segment;
    if (current === undefined || current.firstOffset === this.nextOffset) return false;
    const path = segmentPath(this.topicDirectory, this.nextOffset);
    if (!existsSync(path)) return false;
    const handle = await open(path, "r");
    await current.handle.close();
    this.segment = { firstOffset: this.nextOffset, handle, position: 0 };
    return true;
  }

  /** Opens the segment holding `nextOffset` and finds that record's byte position. */
  private async locate(): Promise<OpenSegment | undefined> {
    const segments = await listSegments(this.topicDirectory);
    if (segments.length === 0) return undefined;
    let firstOffset = segments.findLast((offset) => offset <= this.nextOffset);
    if (firstOffset === undefined) {
      firstOffset = segments[0] as number;
      this.logger.warn(
        { topic: this.topic, position: this.nextOffset, earliest: firstOffset },
        "local log: position is before the earliest segment; reading from the earliest",
      );
      this.nextOffset = firstOffset;
    }
    const handle = await open(segmentPath(this.topicDirectory, firstOffset), "r");
    const wanted = this.nextOffset - firstOffset;
    let scan: { lines: number; endOfLastLine: number };
    try {
      scan = await scanLines(handle, 0, wanted);
    } catch (error) {
      await handle.close();
      throw error;
    }
    if (scan.lines < wanted) {
      if (firstOffset !== segments.at(-1)) {
        await handle.close();
        throw new Error(
          `local log: segment ${segmentPath(this.topicDirectory, firstOffset)} holds ${scan.lines} records, fewer than the next segment's name implies`,
        );
      }
      // Committed positions only cover lines a reader saw, so the log once held
      // them; it can only have lost them to an OS crash before the writer's
      // fsync. New records will reuse those offsets: read them rather than skip.
      this.logger.error(
        { topic: this.topic, position: this.nextOffset, end: firstOffset + scan.lines },
        "local log: committed position is past the end of the log (records lost in an OS crash?); resuming at the end",
      );
      this.nextOffset = firstOffset + scan.lines;
    }
    return { firstOffset, handle, position: scan.endOfLastLine };
  }
}
