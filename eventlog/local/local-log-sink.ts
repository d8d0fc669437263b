import type { Logger } from "pino";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import { topicFor } from "../../events/topics.ts";
import { defaultEventLogLogger } from "../logger.ts";
import type { EventSink } from "../ports.ts";
import { RecordBatcher } from "../record-batcher.ts";
import { LocalLogWriter } from "./local-log-writer.ts";

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
  private readonly logger: Logger;
  private readonly batcher: RecordBatcher;
  private closed = false;

  private constructor(
    private readonly writer: LocalLogWriter,
    options: LocalLogSinkOptions,
  ) {
    this.directory = writer.directory;
    this.logger = options.logger ?? defaultEventLogLogger();
    this.batcher = new RecordBatcher({
      name: `local log ${this.directory}`,
      deliver: (records) => this.writer.write(records),
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
    const logger = options.logger ?? defaultEventLogLogger();
    const writer = await LocalLogWriter.open({
      directory: options.directory ?? DEFAULT_LOCAL_LOG_DIRECTORY,
      segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
      logger,
    });
    return new LocalLogSink(writer, { ...options, logger });
  }

  publish(event: SwitchboardEvent): void {
    this.append(topicFor(event.event_type), event.request_id, JSON.stringify(event));
  }

  append(topic: string, key: string, value: string): void {
    if (this.closed) throw new Error(`local log sink ${this.directory} is closed`);
    this.writer.checkTopic(topic);
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
      await this.writer.close();
    }
  }
}
