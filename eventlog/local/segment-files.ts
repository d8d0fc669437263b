// The local log's files: `<directory>/<topic>/<first offset, 20 digits>.log`,
// one partition (0) per topic. Offsets are JavaScript numbers: safe integers
// reach 9·10^15 records, far past what one disk holds.
import { constants as fileConstants } from "node:fs";
import { type FileHandle, mkdir, open, readdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { LINE_FEED } from "./record-line.ts";

const SEGMENT_NAME = /^(\d{20})\.log$/;
const SCAN_CHUNK_BYTES = 1024 * 1024;

export function segmentFileName(firstOffset: number): string {
  return `${String(firstOffset).padStart(20, "0")}.log`;
}

export function segmentPath(topicDirectory: string, firstOffset: number): string {
  return join(topicDirectory, segmentFileName(firstOffset));
}

/** First offsets of the topic's segments, ascending; empty when the topic has none yet. */
export async function listSegments(topicDirectory: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(topicDirectory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const firstOffsets: number[] = [];
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name);
    if (match) firstOffsets.push(Number(match[1]));
  }
  return firstOffsets.sort((left, right) => left - right);
}

/** Opens a file for positioned writes, creating it; never O_APPEND, so a write can replace a torn tail. */
export function openForWriting(path: string): Promise<FileHandle> {
  return open(path, fileConstants.O_WRONLY | fileConstants.O_CREAT, 0o644);
}

/**
 * fsyncs a directory, which makes the names created, renamed or removed in it
 * durable; without it a crash can lose a new segment or position file even
 * though its contents were fsync'd.
 */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, fileConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** mkdir -p, then fsyncs the parent of every directory it created so they survive a crash. */
export async function makeDirectoryDurably(directory: string): Promise<void> {
  const firstCreated = await mkdir(directory, { recursive: true });
  if (firstCreated === undefined) return;
  let created = directory;
  for (;;) {
    await syncDirectory(dirname(created));
    if (created === firstCreated) return;
    created = dirname(created);
  }
}

/** Writes all of `data` at `position`, looping over short writes. */
export async function writeFully(
  handle: FileHandle,
  data: Buffer,
  position: number,
): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const result = await handle.write(data, written, data.length - written, position + written);
    written += result.bytesWritten;
  }
}

/**
 * Counts the complete lines of a file from `startPosition`, stopping after
 * `maxLines`. Returns how many it found and the position just past the last
 * LF (bytes after it are a torn or still-being-written line).
 */
export async function scanLines(
  handle: FileHandle,
  startPosition: number,
  maxLines = Number.POSITIVE_INFINITY,
): Promise<{ lines: number; endOfLastLine: number }> {
  const buffer = Buffer.allocUnsafe(SCAN_CHUNK_BYTES);
  let lines = 0;
  let endOfLastLine = startPosition;
  let position = startPosition;
  while (lines < maxLines) {
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    const chunk = buffer.subarray(0, bytesRead);
    let index = chunk.indexOf(LINE_FEED);
    while (index >= 0 && lines < maxLines) {
      lines += 1;
      endOfLastLine = position + index + 1;
      index = chunk.indexOf(LINE_FEED, index + 1);
    }
    position += bytesRead;
  }
  return { lines, endOfLastLine };
}

/**
 * Deletes the segments whose every record is below `offset` (a reader has
 * them all and they are no longer needed) and returns the bytes freed. The
 * last segment is never deleted: it is the one the writer appends to and the
 * one whose name carries the offsets on. The folder is fsync'd after, so a
 * crash cannot bring a deleted segment back under a reader.
 */
export async function deleteSegmentsBefore(
  topicDirectory: string,
  offset: number,
): Promise<number> {
  const segments = await listSegments(topicDirectory);
  let freedBytes = 0;
  for (let index = 0; index + 1 < segments.length; index += 1) {
    const nextFirstOffset = segments[index + 1] as number;
    if (nextFirstOffset > offset) break;
    const path = segmentPath(topicDirectory, segments[index] as number);
    freedBytes += (await stat(path)).size;
    await unlink(path);
  }
  if (freedBytes > 0) await syncDirectory(topicDirectory);
  return freedBytes;
}

/** Total bytes of the topic's segment files. */
export async function segmentBytesOnDisk(topicDirectory: string): Promise<number> {
  let bytes = 0;
  for (const firstOffset of await listSegments(topicDirectory)) {
    bytes += (await stat(segmentPath(topicDirectory, firstOffset))).size;
  }
  return bytes;
}

/** Where a previous `countRecords` stopped, so the next call scans only what was added. */
export interface RecordCountCursor {
  segment: number;
  position: number;
  records: number;
}

/**
 * The topic's end offset: the offset its next record will get. Scans only
 * the bytes added since `cursor` (pass the returned one back next time).
 */
export async function endOffsetOf(
  topicDirectory: string,
  cursor?: RecordCountCursor,
): Promise<RecordCountCursor> {
  const lastSegment = (await listSegments(topicDirectory)).at(-1);
  if (lastSegment === undefined) return { segment: 0, position: 0, records: 0 };
  const start =
    cursor?.segment === lastSegment ? cursor : { segment: lastSegment, position: 0, records: 0 };
  const handle = await open(segmentPath(topicDirectory, lastSegment), "r");
  try {
    const scan = await scanLines(handle, start.position);
    return {
      segment: lastSegment,
      position: scan.endOfLastLine,
      records: start.records + scan.lines,
    };
  } finally {
    await handle.close();
  }
}
