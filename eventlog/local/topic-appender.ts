// The one writer of a topic's segment files in this process. It owns the
// offsets, so every sink in the process that writes a topic shares its
// appender (see `acquireTopicAppender`); a second process writing the same
// directory is not supported.
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { resolve } from "node:path";
import type { Logger } from "pino";
import {
  listSegments,
  makeDirectoryDurably,
  openForWriting,
  scanLines,
  segmentPath,
  syncDirectory,
  writeFully,
} from "./segment-files.ts";

/** Thrown when an append failed after `appendedLines` of its lines were already durable. */
export class AppendError extends Error {
  constructor(
    readonly appendedLines: number,
    options: { cause: unknown },
  ) {
    super(`append failed after ${appendedLines} durable lines`, options);
    this.name = "AppendError";
  }
}

export class TopicAppender {
  /** Appends run one after another; this is the last one queued. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly topicDirectory: string,
    private readonly segmentBytes: number,
    private handle: FileHandle,
    /** Bytes of the current segment known durable; the next write goes here. */
    private segmentSize: number,
    /** Offset the next line will get. */
    private nextOffset: number,
  ) {}

  /** Offset the next durable line will get: the number of records the topic has ever held. */
  get endOffset(): number {
    return this.nextOffset;
  }

  /**
   * Opens the topic for appending, creating it if needed. A crash can leave the
   * last line of the last segment half written; it was never reported durable,
   * so it is cut off here (back to the last LF) and the offsets continue from
   * the last complete line. Earlier segments are never torn: a segment is only
   * closed after its last write was fsync'd.
   */
  static async open(
    topicDirectory: string,
    segmentBytes: number,
    logger: Logger,
  ): Promise<TopicAppender> {
    await makeDirectoryDurably(topicDirectory);
    const segments = await listSegments(topicDirectory);
    const lastSegment = segments.at(-1);
    if (lastSegment === undefined) {
      const handle = await openForWriting(segmentPath(topicDirectory, 0));
      await syncDirectory(topicDirectory);
      return new TopicAppender(topicDirectory, segmentBytes, handle, 0, 0);
    }
    const path = segmentPath(topicDirectory, lastSegment);
    const handle = await openForWriting(path);
    try {
      const reader = await open(path, "r");
      let scan: { lines: number; endOfLastLine: number };
      let size: number;
      try {
        size = (await reader.stat()).size;
        scan = await scanLines(reader, 0);
      } finally {
        await reader.close();
      }
      if (scan.endOfLastLine < size) {
        logger.warn(
          { segment: path, tornBytes: size - scan.endOfLastLine },
          "local log: cutting off a torn last line left by a crash",
        );
        // Truncate, then fsync, before any new line lands after the cut.
        await handle.truncate(scan.endOfLastLine);
        await handle.sync();
      }
      return new TopicAppender(
        topicDirectory,
        segmentBytes,
        handle,
        scan.endOfLastLine,
        lastSegment + scan.lines,
      );
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Appends encoded lines (each ending in LF) and resolves with the offset of
   * the first once all of them are written and fsync'd. On failure it rejects
   * with an AppendError naming how many lines (from the start) are durable;
   * the rest were cut off again and may be retried.
   */
  append(lines: Buffer[]): Promise<number> {
    const result = this.tail.then(() => this.appendNow(lines));
    this.tail = result.catch(() => {});
    return result;
  }

  close(): Promise<void> {
    const closed = this.tail.then(() => this.handle.close());
    this.tail = closed.catch(() => {});
    return closed;
  }

  private async appendNow(lines: Buffer[]): Promise<number> {
    const firstOffset = this.nextOffset;
    let appended = 0;
    let chunk: Buffer[] = [];
    let chunkBytes = 0;
    try {
      for (const line of lines) {
        const wouldBe = this.segmentSize + chunkBytes + line.length;
        // Roll before a segment would pass its size; a line bigger than a whole
        // segment still gets one segment to itself.
        if (this.segmentSize + chunkBytes > 0 && wouldBe > this.segmentBytes) {
          await this.writeDurably(chunk, chunkBytes);
          appended += chunk.length;
          await this.roll();
          chunk = [];
          chunkBytes = 0;
        }
        chunk.push(line);
        chunkBytes += line.length;
      }
      await this.writeDurably(chunk, chunkBytes);
      return firstOffset;
    } catch (error) {
      throw new AppendError(appended, { cause: error });
    }
  }

  /**
   * write → fsync → only then count the lines as appended. If either step
   * fails, the segment is cut back to its last durable size: after a failed
   * fsync Linux may have dropped the dirty pages while a later fsync reports
   * success, so those bytes are rewritten rather than trusted.
   */
  private async writeDurably(chunk: Buffer[], bytes: number): Promise<void> {
    if (chunk.length === 0) return;
    const data = chunk.length === 1 ? (chunk[0] as Buffer) : Buffer.concat(chunk, bytes);
    try {
      await writeFully(this.handle, data, this.segmentSize);
      await this.handle.sync();
    } catch (error) {
      await this.handle.truncate(this.segmentSize).catch(() => {});
      throw error;
    }
    this.segmentSize += bytes;
    this.nextOffset += chunk.length;
  }

  /**
   * Starts the segment named by the next offset. The previous segment is
   * complete and fsync'd; the directory is fsync'd so the new name survives a
   * crash before any line in it is reported durable.
   */
  private async roll(): Promise<void> {
    const handle = await openForWriting(segmentPath(this.topicDirectory, this.nextOffset));
    try {
      await syncDirectory(this.topicDirectory);
    } catch (error) {
      await handle.close();
      throw error;
    }
    const previous = this.handle;
    this.handle = handle;
    this.segmentSize = 0;
    await previous.close();
  }
}

interface SharedAppender {
  appender: Promise<TopicAppender>;
  users: number;
}

const appendersByDirectory = new Map<string, SharedAppender>();

/**
 * The process's appender for a topic directory, opened on first use. Sinks in
 * one process (gateway and ingest's dead letters, in embedded mode) share it,
 * so two of them can never hand out the same offset.
 */
export function acquireTopicAppender(
  topicDirectory: string,
  segmentBytes: number,
  logger: Logger,
): Promise<TopicAppender> {
  const key = resolve(topicDirectory);
  let shared = appendersByDirectory.get(key);
  if (shared === undefined) {
    const appender = TopicAppender.open(key, segmentBytes, logger);
    shared = { appender, users: 0 };
    appendersByDirectory.set(key, shared);
    // A failed open is forgotten so the next acquire tries again.
    appender.catch(() => {
      if (appendersByDirectory.get(key) === shared) appendersByDirectory.delete(key);
    });
  }
  shared.users += 1;
  return shared.appender;
}

/** Gives back one acquire; the last one closes the files. */
export async function releaseTopicAppender(topicDirectory: string): Promise<void> {
  const key = resolve(topicDirectory);
  const shared = appendersByDirectory.get(key);
  if (shared === undefined) return;
  shared.users -= 1;
  if (shared.users > 0) return;
  appendersByDirectory.delete(key);
  const appender = await shared.appender.catch(() => undefined);
  await appender?.close();
}
