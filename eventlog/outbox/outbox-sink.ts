import { mkdir } from "node:fs/promises";
import { basename } from "node:path";
import type { Logger } from "pino";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import { topicFor } from "../../events/topics.ts";
import { defaultEventLogLogger } from "../logger.ts";
import type { EventSink } from "../ports.ts";
import { type PendingRecord, RecordBatcher } from "../record-batcher.ts";
import type { RecordWriter } from "../record-writer.ts";
import { assertLegalName } from "../topic-names.ts";
import { claimDirectory } from "./directory-owner.ts";
import type { OutboxMetrics, OutboxState } from "./outbox-metrics.ts";
import { OutboxSpool } from "./outbox-spool.ts";

export interface OutboxSinkOptions {
  /** The spool's folder, e.g. `data/outbox/gateway`; one process owns it at a time. */
  directory: string;
  /** Where events go when it can take them: Kafka (a `KafkaBatchSender`). */
  primary: RecordWriter;
  /**
   * Bound on the spool's bytes not yet in Kafka; past it, events wait in
   * memory. Disk use can pass it by one segment per topic. Default 1 GiB.
   */
  maxSpoolBytes?: number;
  /**
   * Events the memory buffer holds. Past half of it, batches go to the spool
   * even while Kafka answers (it is falling behind); past all of it, which
   * happens only while the spool is full or failing, the oldest are dropped,
   * counted and logged. Default 100,000.
   */
  maxMemoryEvents?: number;
  /** How long the first buffered event waits for others to share its request. Default 5 ms. */
  lingerMilliseconds?: number;
  /** A batch goes out as soon as this many events wait. Default 1,000. */
  maxBatchRecords?: number;
  /** Key + value bytes per batch sent to Kafka. Default 900 KiB (under the broker's 1 MiB). */
  maxBatchBytes?: number;
  /** Spool segment size. Default 16 MiB: drained segments are deleted whole. */
  segmentBytes?: number;
  /** First wait after a failed drain (or a refused spool write); doubles up to the max. Default 500 ms. */
  retryDelayMilliseconds?: number;
  /** Default 10 s. */
  maxRetryDelayMilliseconds?: number;
  /** How long `close` keeps draining to a reachable Kafka before it leaves the rest for the next start. Default 10 s. */
  closeDrainMilliseconds?: number;
  metrics?: OutboxMetrics;
  logger?: Logger;
}

/** A spool write refused at the size bound; the batch stays in memory and is retried. */
export class OutboxFullError extends Error {
  constructor(bytes: number, maxBytes: number) {
    super(`outbox spool is full (${bytes} of ${maxBytes} bytes)`);
    this.name = "OutboxFullError";
  }
}

const FULL_REPORT_INTERVAL_MILLISECONDS = 10_000;
/** Longest the drain waits on a spool write in flight before it looks again (a failed write wakes nobody). */
const SPOOL_WRITE_WAIT_MILLISECONDS = 50;

/**
 * The gateway's event sink when the log is Kafka: Kafka when it can, a local
 * spool on disk when it cannot, and never a wait for the caller.
 *
 * `publish` appends to a bounded memory buffer (never blocks). The buffer goes
 * out in batches, one at a time, in order, and each batch takes one of two
 * roads, each durable before `flush` resolves for it:
 *
 *  - direct: while the spool is empty, Kafka is answering and the buffer is
 *    not backing up, the batch is sent to Kafka (idempotent producer, acks
 *    from every in-sync replica).
 *  - spool: otherwise the batch is appended to the spool and fsync'd. Once
 *    one batch is spooled, every later batch is too, until the drain has
 *    sent the spool to Kafka and found it empty: so each topic reaches Kafka
 *    in the order it was published.
 *
 * The drain sends the spool to Kafka oldest first and moves its position only
 * after Kafka has acknowledged, so a crash resends rather than loses. A send
 * that failed or timed out may still have reached Kafka; sending it again
 * makes a duplicate that ingest's idempotent load drops (at least once).
 * What is lost on a hard crash (SIGKILL, power) is only what was in memory:
 * at most `lingerMilliseconds` of events and the batch in flight to Kafka.
 */
export class OutboxSink implements EventSink {
  readonly name: string;
  private readonly batcher: RecordBatcher;
  private readonly logger: Logger;
  private readonly maxSpoolBytes: number;
  private readonly maxMemoryEvents: number;
  private readonly maxBatchRecords: number;
  private readonly maxBatchBytes: number;
  private readonly retryDelayMilliseconds: number;
  private readonly maxRetryDelayMilliseconds: number;
  private readonly closeDrainMilliseconds: number;
  private spooling: boolean;
  private full = false;
  private lastFullReportAt = 0;
  private closed = false;
  private stopping = false;
  private drainFailing = false;
  private wakeDrain: (() => void) | undefined;
  /** Set while a direct send is in flight: memory past half its bound ends the wait. */
  private backlogged: (() => void) | undefined;
  private readonly checkedTopics = new Set<string>();
  private readonly drainLoop: Promise<void>;
  private readonly unwatch: () => void;

  private constructor(
    private readonly options: OutboxSinkOptions,
    private readonly spool: OutboxSpool,
    private readonly releaseDirectory: () => Promise<void>,
  ) {
    this.name = basename(options.directory);
    this.logger = (options.logger ?? defaultEventLogLogger()).child({ outbox: this.name });
    this.maxSpoolBytes = options.maxSpoolBytes ?? 1024 * 1024 * 1024;
    this.maxMemoryEvents = options.maxMemoryEvents ?? 100_000;
    this.maxBatchRecords = options.maxBatchRecords ?? 1_000;
    this.maxBatchBytes = options.maxBatchBytes ?? 900 * 1024;
    this.retryDelayMilliseconds = options.retryDelayMilliseconds ?? 500;
    this.maxRetryDelayMilliseconds = options.maxRetryDelayMilliseconds ?? 10_000;
    this.closeDrainMilliseconds = options.closeDrainMilliseconds ?? 10_000;
    this.batcher = new RecordBatcher({
      name: `outbox ${this.name}`,
      deliver: (records) => this.deliver(records),
      lingerMilliseconds: options.lingerMilliseconds ?? 5,
      maxBatchRecords: this.maxBatchRecords,
      maxBatchBytes: this.maxBatchBytes,
      retryDelayMilliseconds: this.retryDelayMilliseconds,
      maxBufferedRecords: this.maxMemoryEvents,
      onDropped: (count) => options.metrics?.droppedEvents.inc({ outbox: this.name }, count),
      // Half the memory bound in use means Kafka is not keeping up: spill rather than drop later.
      backlogThreshold: this.maxMemoryEvents / 2,
      onBacklog: () => this.backlogged?.(),
      logger: this.logger,
    });
    // Events left in the spool by the last run go first, so the new ones queue behind them.
    this.spooling = spool.depth > 0;
    if (this.spooling) {
      this.logger.warn(
        { depthEvents: spool.depth, spoolBytes: spool.bytes },
        "outbox: events from the last run are still spooled; draining them to Kafka before anything new",
      );
    }
    this.unwatch = options.metrics?.watch(this) ?? (() => {});
    this.drainLoop = this.drain();
  }

  /** Claims the folder, opens the spool (cutting off a torn line a crash left) and starts draining. */
  static async open(options: OutboxSinkOptions): Promise<OutboxSink> {
    await mkdir(options.directory, { recursive: true });
    const release = await claimDirectory(options.directory);
    try {
      const spool = await OutboxSpool.open({
        directory: options.directory,
        segmentBytes: options.segmentBytes ?? 16 * 1024 * 1024,
        logger: options.logger ?? defaultEventLogLogger(),
      });
      return new OutboxSink(options, spool, release);
    } catch (error) {
      await release();
      throw error;
    }
  }

  publish(event: SwitchboardEvent): void {
    this.append(topicFor(event.event_type), event.request_id, JSON.stringify(event));
  }

  append(topic: string, key: string, value: string): void {
    if (this.closed) throw new Error(`outbox ${this.name} is closed`);
    if (!this.checkedTopics.has(topic)) {
      // The spool keeps a folder per topic: a name must be a safe one.
      assertLegalName("topic", topic);
      this.checkedTopics.add(topic);
    }
    this.batcher.add({ topic, key, value });
  }

  /** Resolves once every event appended before it is in Kafka or in the spool on disk. */
  flush(): Promise<void> {
    return this.batcher.flush();
  }

  state(): OutboxState {
    return {
      name: this.name,
      depthEvents: this.spool.depth,
      spoolBytes: this.spool.bytes,
      maxSpoolBytes: this.maxSpoolBytes,
      memoryEvents: this.batcher.bufferedCount,
      full: this.full,
      spooling: this.spooling,
    };
  }

  /**
   * Flushes memory (to Kafka or the spool), keeps draining while Kafka takes
   * the spool (up to `closeDrainMilliseconds`), then stops. What is still
   * spooled stays on disk and drains at the next start.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let failure: unknown;
    try {
      await this.batcher.flush();
    } catch (error) {
      failure = error;
      this.logger.error(
        { err: error, events: this.batcher.bufferedCount },
        "outbox: closing with events neither Kafka nor the spool took; they are LOST",
      );
    } finally {
      this.batcher.stop();
    }
    const deadline = Date.now() + this.closeDrainMilliseconds;
    while (this.spooling && !this.drainFailing && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (this.spool.depth > 0) {
      this.logger.warn(
        { depthEvents: this.spool.depth },
        "outbox: stopping with spooled events; they drain to Kafka at the next start",
      );
    }
    this.stopping = true;
    this.wakeDrain?.();
    await this.drainLoop;
    this.unwatch();
    await this.spool.close();
    await this.options.primary.close();
    await this.releaseDirectory();
    if (failure !== undefined) throw failure;
  }

  /** Called by the batcher with one batch at a time, in order. */
  private async deliver(records: PendingRecord[]): Promise<void> {
    if (!this.spooling) {
      const outcome = await this.sendDirect(records);
      if (outcome === "sent") {
        this.options.metrics?.sentEvents.inc({ outbox: this.name }, records.length);
        return;
      }
      this.startSpooling(
        outcome === "backlog"
          ? "Kafka is falling behind the gateway"
          : "Kafka did not take a batch",
        outcome === "backlog" ? undefined : outcome.error,
      );
    }
    await this.writeToSpool(records);
  }

  /**
   * Sends the batch to Kafka, unless memory fills past half its bound first
   * (Kafka slow, or down and not yet saying so). Then the batch goes to the
   * spool ahead of everything after it, and the send is left to finish on its
   * own: if Kafka took it after all, the drain sends it again, a duplicate
   * ingest drops. Order is kept; nothing waits on Kafka.
   */
  private async sendDirect(
    records: PendingRecord[],
  ): Promise<"sent" | "backlog" | { error: unknown }> {
    if (this.batcher.bufferedCount > this.maxMemoryEvents / 2) return "backlog";
    const backlog = new Promise<"backlog">((resolve) => {
      this.backlogged = () => resolve("backlog");
    });
    const sent = this.options.primary.write(records).then(
      () => "sent" as const,
      (error: unknown) => ({ error }),
    );
    try {
      return await Promise.race([sent, backlog]);
    } finally {
      this.backlogged = undefined;
    }
  }

  private startSpooling(reason: string, error: unknown): void {
    this.spooling = true;
    this.logger.warn(
      { err: error, memoryEvents: this.batcher.bufferedCount },
      `outbox: ${reason}; spooling events to disk and draining them to Kafka in order`,
    );
  }

  private async writeToSpool(records: PendingRecord[]): Promise<void> {
    if (this.spool.pendingBytes >= this.maxSpoolBytes) {
      this.full = true;
      const error = new OutboxFullError(this.spool.pendingBytes, this.maxSpoolBytes);
      // One line every ten seconds while it lasts; the metric says it all the time.
      if (Date.now() - this.lastFullReportAt >= FULL_REPORT_INTERVAL_MILLISECONDS) {
        this.lastFullReportAt = Date.now();
        this.logger.error(
          {
            pendingBytes: this.spool.pendingBytes,
            maxSpoolBytes: this.maxSpoolBytes,
            memoryEvents: this.batcher.bufferedCount,
            maxMemoryEvents: this.maxMemoryEvents,
          },
          "outbox: SPOOL FULL; events now wait in memory and past its bound the oldest are LOST. Bring Kafka back or raise outbox.max_bytes",
        );
      }
      throw error;
    }
    this.full = false;
    // write → fsync → only then does the batcher count the batch delivered.
    await this.spool.write(records);
    this.options.metrics?.spooledEvents.inc({ outbox: this.name }, records.length);
    this.wakeDrain?.();
  }

  /**
   * The drain: while spooling, send the spool's oldest records to Kafka, one
   * chunk at a time; Kafka acknowledges → the drain position moves (fsync'd)
   * → drained segments are deleted. When nothing is left to hand out and no
   * spool write happened meanwhile, the spool is empty: new batches go direct.
   */
  private async drain(): Promise<void> {
    let delay = this.retryDelayMilliseconds;
    while (!this.stopping) {
      if (!this.spooling) {
        await this.sleep(Number.POSITIVE_INFINITY);
        continue;
      }
      const writesBefore = this.spool.writesSettled;
      const chunk = await this.spool
        .next(this.maxBatchRecords, this.maxBatchBytes)
        .catch((error: unknown) => {
          this.logger.error({ err: error }, "outbox: reading the spool failed");
          return null;
        });
      if (chunk === null) {
        await this.sleep(delay);
        continue;
      }
      if (chunk === undefined) {
        if (this.spool.writing) {
          // A batch is on its way to the spool; its write wakes the drain.
          await this.sleep(SPOOL_WRITE_WAIT_MILLISECONDS);
        } else if (this.spool.writesSettled === writesBefore) {
          this.spooling = false;
          this.full = false;
          this.logger.info("outbox: spool drained; sending straight to Kafka again");
        }
        continue;
      }
      try {
        await this.options.primary.write(chunk.records);
      } catch (error) {
        await this.spool.rewind(chunk);
        if (!this.drainFailing) {
          this.logger.warn(
            { err: error, depthEvents: this.spool.depth },
            "outbox: Kafka is unreachable; spooled events wait on disk and are retried",
          );
        }
        this.drainFailing = true;
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.maxRetryDelayMilliseconds);
        continue;
      }
      if (this.drainFailing) {
        this.logger.info({ depthEvents: this.spool.depth }, "outbox: Kafka is back; draining");
      }
      this.drainFailing = false;
      delay = this.retryDelayMilliseconds;
      try {
        await this.spool.acknowledge(chunk);
      } catch (error) {
        // The records are in Kafka but the position did not move: they will be
        // sent again (duplicates ingest drops). Reread from the old position.
        this.logger.error({ err: error }, "outbox: recording the drain position failed");
        await this.spool.rewind(chunk);
        await this.sleep(delay);
        continue;
      }
      this.options.metrics?.drainedEvents.inc({ outbox: this.name }, chunk.records.length);
    }
  }

  /** Waits `milliseconds` (forever: until woken), or until a spool write or `close` wakes it. */
  private sleep(milliseconds: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        if (this.wakeDrain === finish) this.wakeDrain = undefined;
        resolve();
      };
      if (Number.isFinite(milliseconds)) timer = setTimeout(finish, milliseconds);
      this.wakeDrain = finish;
    });
  }
}
