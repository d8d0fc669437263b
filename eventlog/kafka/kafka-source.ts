import type { Admin, Batch, Consumer, EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { defaultEventLogLogger } from "../logger.ts";
import type { BatchHandler, EventSource, LogRecord, PartitionLag } from "../ports.ts";

export interface KafkaSourceOptions {
  group: string;
  topics: string[];
  /** A new group starts at the earliest record (true, the default) or only sees new ones. */
  fromBeginning?: boolean;
  /**
   * Where partitions start the first time this member is given them, keyed
   * `topic/partition` (replay from a time). A partition this member has
   * committed since starts from its commit, as usual.
   */
  startOffsets?: Map<string, string>;
  /**
   * Most records handed to the handler at once. Partition batches join one
   * handler batch until the next would pass this; a partition batch bigger
   * than it is cut into runs, each committed once stored. Default 20,000.
   */
  maxBatchRecords?: number;
  /**
   * Most bytes of record values in one handler batch (one record at least,
   * however big); also what one fetch asks for. Default 16 MiB.
   */
  maxBatchBytes?: number;
  /**
   * The broker holds a fetch until `maxBatchBytes` are there or this long has
   * passed, so a quiet topic still makes one batch this often and a busy one
   * fills whole batches. close() waits for the fetch in flight, so this also
   * bounds how long it takes. Default 500 ms.
   */
  maxBatchWaitMilliseconds?: number;
  /** Bytes fetched per partition at most. Default 4 MiB (or maxBatchBytes if smaller). */
  maxPartitionBytes?: number;
  /** Partition batches of one fetch handled side by side and joined into one handler batch. Default 64. */
  partitionsConsumedConcurrently?: number;
  /** The broker drops a member it has not heard from for this long. Default 30 s. */
  sessionTimeoutMilliseconds?: number;
  /** How often a member heartbeats, also while a long handler runs. Default 3 s. */
  heartbeatIntervalMilliseconds?: number;
  logger?: Logger;
}

const EMPTY_VALUE = Buffer.alloc(0);
/**
 * Partition batches of one fetch reach eachBatch within the same turn of the
 * event loop; this short wait also gathers those of a second broker's fetch.
 */
const ASSEMBLY_LINGER_MILLISECONDS = 5;
const LAG_QUERY_TIMEOUT_MILLISECONDS = 5_000;
const FIRST_RESTART_DELAY_MILLISECONDS = 1_000;
const LONGEST_RESTART_DELAY_MILLISECONDS = 30_000;
/** Heartbeat errors that mean the group is rebalancing: the batch's partitions may move. */
const REBALANCE_ERRORS = new Set([
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "NOT_COORDINATOR_FOR_GROUP",
]);

/** A run of one partition's records from one fetch, waiting in an assembly. */
interface PartitionPart {
  topic: string;
  partition: number;
  payload: EachBatchPayload;
  records: LogRecord[];
  bytes: number;
  /** What to commit once the part is stored: the offset after its last record. */
  nextOffset: string;
}

type AssemblyOutcome = "committed" | "abandoned";

/** Partition batches joined into one handler batch; every part waits for its outcome. */
class Assembly {
  readonly parts: PartitionPart[] = [];
  records = 0;
  bytes = 0;
  timer: NodeJS.Timeout | undefined;
  readonly outcome: Promise<AssemblyOutcome>;
  settle!: (outcome: AssemblyOutcome) => void;

  /** @param epoch the source's abandon count when this assembly opened (see KafkaSource.epoch). */
  constructor(readonly epoch: number) {
    this.outcome = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  add(part: PartitionPart): void {
    this.parts.push(part);
    this.records += part.records.length;
    this.bytes += part.bytes;
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/**
 * The distributed event log's reader: one member of a consumer group.
 *
 * Batching: a fetch asks for up to `maxBatchBytes` and the broker holds it
 * until that much is there or `maxBatchWaitMilliseconds` passed. kafkajs
 * hands the fetch's partition batches to eachBatch side by side; they join
 * one assembly (bounded by `maxBatchRecords` and `maxBatchBytes`), which goes
 * to the handler as one batch, so ingest inserts once per table per batch.
 * No further fetch starts until every partition batch of this one has
 * returned: memory is bounded by one fetch, and while the handler retries
 * (ClickHouse down) the member stops fetching and only heartbeats.
 *
 * Order of steps, and what each guarantees:
 *  1. handler(records) resolves: the batch is stored.
 *  2. one OffsetCommit of last+1 for every partition in the batch
 *     (explicit; there is no auto-commit): only now does the group move on.
 *  3. resolveOffset: kafkajs fetches after the batch.
 * A crash before 2 redelivers the batch to whoever owns the partitions next
 * (at least once, never skipped). If the group rebalances while the handler
 * runs, the batch's signal is aborted; a handler that gives up commits
 * nothing, and the partitions are read again from the last commit by their
 * next owner. A commit refused after a rebalance is logged and left: the
 * batch is stored, and its next reader finds the events already there.
 */
export class KafkaSource implements EventSource {
  private consumer: Consumer;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMilliseconds = FIRST_RESTART_DELAY_MILLISECONDS;
  private readonly options: KafkaSourceOptions;
  private readonly logger: Logger;
  private readonly maxBatchRecords: number;
  private readonly maxBatchBytes: number;
  private readonly heartbeatIntervalMilliseconds: number;
  private handler: BatchHandler | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;
  private connecting: Promise<unknown> = Promise.resolve();
  private settle: { resolve(): void; reject(error: unknown): void } | undefined;
  private failure: unknown;
  /** The assembly still taking partition batches. */
  private open: Assembly | undefined;
  /** Assemblies are stored one after another; this is the last one queued. */
  private storing: Promise<void> = Promise.resolve();
  /** Aborts the batch in the handler. */
  private batchAbort: AbortController | undefined;
  /** Partitions this member has committed; a rejoin does not seek them back to `startOffsets`. */
  private readonly committedHere = new Set<string>();
  private admin: Promise<Admin> | undefined;
  /**
   * Counts abandoned assemblies. An assembly opened before the last
   * abandonment is abandoned too, unstored: it may hold a later run of a
   * partition whose earlier run was just given up, and committing it would
   * skip that run. kafkajs then fetches all of them again from the commits.
   */
  private epoch = 0;

  constructor(
    private readonly kafka: Kafka,
    options: KafkaSourceOptions,
  ) {
    if (options.topics.length === 0) throw new Error("kafka source needs at least one topic");
    this.options = options;
    this.logger = options.logger ?? defaultEventLogLogger();
    this.maxBatchRecords = options.maxBatchRecords ?? 20_000;
    this.maxBatchBytes = options.maxBatchBytes ?? 16 * 1024 * 1024;
    this.heartbeatIntervalMilliseconds = options.heartbeatIntervalMilliseconds ?? 3_000;
    this.consumer = this.createConsumer();
  }

  /**
   * A kafkajs consumer for this member. kafkajs's own restart after a crash
   * is turned off: it restarts only on errors it calls retriable, and a
   * restart whose group join then fails (the coordinator not yet back after a
   * broker restart) is lost as an unhandled rejection. This source restarts
   * instead (`restartAfterCrash`), on every crash, with backoff.
   */
  private createConsumer(): Consumer {
    const consumer = this.kafka.consumer({
      groupId: this.options.group,
      sessionTimeout: this.options.sessionTimeoutMilliseconds ?? 30_000,
      heartbeatInterval: this.heartbeatIntervalMilliseconds,
      maxWaitTimeInMs: this.options.maxBatchWaitMilliseconds ?? 500,
      minBytes: this.maxBatchBytes,
      maxBytes: this.maxBatchBytes,
      maxBytesPerPartition: Math.min(
        this.options.maxPartitionBytes ?? 4 * 1024 * 1024,
        this.maxBatchBytes,
      ),
      allowAutoTopicCreation: false,
      retry: { restartOnFailure: async () => false },
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.restartAfterCrash(consumer, event.payload.error);
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.restartDelayMilliseconds = FIRST_RESTART_DELAY_MILLISECONDS;
      this.seekToStartOffsets(event.payload.memberAssignment);
    });
    return consumer;
  }

  start(handler: BatchHandler): Promise<void> {
    if (this.started) return Promise.reject(new Error("source already started"));
    this.started = true;
    if (this.stopping) return Promise.reject(new Error("source is closed"));
    this.handler = handler;
    const stopped = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.run();
    return stopped;
  }

  /** Connects, joins and consumes with the current consumer; a failure to get there is a crash. */
  private run(): void {
    const consumer = this.consumer;
    const running = this.subscribeAndRun(consumer);
    // stop() waits for the set-up to settle before it disconnects.
    this.connecting = running.catch(() => {});
    running.catch((error: unknown) => {
      void consumer.disconnect().catch(() => {});
      this.restartAfterCrash(consumer, error);
    });
  }

  /**
   * A consumer that crashed (or never got going) is replaced by a new one
   * after a backoff (1 s doubling to 30 s), for as long as it takes: a broker
   * outage is waited out, not turned into a failed ingest. Nothing is lost:
   * the new consumer starts at the group's last commit, which follows the
   * last stored batch.
   */
  private restartAfterCrash(crashed: Consumer, error: unknown): void {
    if (this.stopping !== undefined || crashed !== this.consumer) return;
    const delay = this.restartDelayMilliseconds;
    this.restartDelayMilliseconds = Math.min(delay * 2, LONGEST_RESTART_DELAY_MILLISECONDS);
    this.logger.error(
      { err: error, group: this.options.group, restartInMs: delay },
      "kafka source: the consumer crashed; starting a new one from the last commit",
    );
    this.batchAbort?.abort(error);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping !== undefined) return;
      this.consumer = this.createConsumer();
      this.run();
    }, delay);
  }

  /** Aborts the batch in the handler, commits it if it was stored anyway, leaves the group; then `start` resolves. */
  async close(): Promise<void> {
    await this.stop(undefined);
  }

  /** Log end offset minus the group's committed offset, per partition, from the brokers. */
  async lag(): Promise<PartitionLag[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("consumer lag query timed out")),
        LAG_QUERY_TIMEOUT_MILLISECONDS,
      );
    });
    try {
      return await Promise.race([this.queryLag(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async queryLag(): Promise<PartitionLag[]> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin({ retry: { retries: 1 } });
      await admin.connect();
      return admin;
    })().catch((error: unknown) => {
      this.admin = undefined;
      throw error;
    });
    const admin = await this.admin;
    const committed = await admin.fetchOffsets({
      groupId: this.options.group,
      topics: this.options.topics,
    });
    const lags: PartitionLag[] = [];
    for (const { topic, partitions } of committed) {
      const ends = await admin.fetchTopicOffsets(topic);
      for (const end of ends) {
        const commit = partitions.find((partition) => partition.partition === end.partition);
        const from = commit && BigInt(commit.offset) >= 0n ? commit.offset : end.low;
        lags.push({
          topic,
          partition: end.partition,
          lag: Number(BigInt(end.high) - BigInt(from)),
        });
      }
    }
    return lags;
  }

  private async subscribeAndRun(consumer: Consumer): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({
      topics: this.options.topics,
      fromBeginning: this.options.fromBeginning ?? true,
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 64,
      eachBatch: (payload) => this.handlePartitionBatch(payload),
    });
  }

  private seekToStartOffsets(assignment: Record<string, number[]>): void {
    const startOffsets = this.options.startOffsets;
    if (startOffsets === undefined) return;
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const key = partitionKey(topic, partition);
        const offset = startOffsets.get(key);
        if (offset !== undefined && !this.committedHere.has(key)) {
          this.consumer.seek({ topic, partition, offset });
        }
      }
    }
  }

  /**
   * kafkajs's eachBatch: joins the assembly (cut into runs that fit the batch
   * bounds) and returns once its runs are committed, or one is given up.
   */
  private async handlePartitionBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    if (this.stopping || !isRunning() || isStale() || batch.messages.length === 0) return;
    const joined: { assembly: Assembly; part: PartitionPart }[] = [];
    for (const part of this.cutIntoParts(batch, payload)) {
      joined.push({ assembly: this.join(part), part });
    }
    for (const { assembly, part } of joined) {
      // Returning without resolving (abandoned) makes kafkajs fetch the rest
      // again from the last commit, if this member still owns the partition.
      if ((await assembly.outcome) !== "committed") return;
      payload.resolveOffset((BigInt(part.nextOffset) - 1n).toString());
    }
  }

  /** The batch's records in runs of at most maxBatchRecords and maxBatchBytes (one record at least). */
  private cutIntoParts(batch: Batch, payload: EachBatchPayload): PartitionPart[] {
    const records = toLogRecords(batch);
    const parts: PartitionPart[] = [];
    let start = 0;
    while (start < records.length) {
      let end = start;
      let bytes = 0;
      while (end < records.length && end - start < this.maxBatchRecords) {
        const recordBytes = (records[end] as LogRecord).value.length;
        if (end > start && bytes + recordBytes > this.maxBatchBytes) break;
        bytes += recordBytes;
        end += 1;
      }
      const last = end === records.length;
      parts.push({
        topic: batch.topic,
        partition: batch.partition,
        payload,
        records: start === 0 && last ? records : records.slice(start, end),
        bytes,
        // The last run commits past the batch's end, which may be a control record.
        nextOffset: (
          BigInt(last ? batch.lastOffset() : (records[end - 1] as LogRecord).offset) + 1n
        ).toString(),
      });
      start = end;
    }
    return parts;
  }

  private join(part: PartitionPart): Assembly {
    let assembly = this.open;
    if (
      assembly !== undefined &&
      (assembly.records + part.records.length > this.maxBatchRecords ||
        assembly.bytes + part.bytes > this.maxBatchBytes)
    ) {
      this.seal(assembly);
      assembly = undefined;
    }
    if (assembly === undefined) {
      assembly = new Assembly(this.epoch);
      this.open = assembly;
      const opened = assembly;
      opened.timer = setTimeout(() => this.seal(opened), ASSEMBLY_LINGER_MILLISECONDS);
    }
    assembly.add(part);
    if (assembly.records >= this.maxBatchRecords || assembly.bytes >= this.maxBatchBytes) {
      this.seal(assembly);
    }
    return assembly;
  }

  /** No more parts join; the assembly is stored after those queued before it. */
  private seal(assembly: Assembly): void {
    clearTimeout(assembly.timer);
    if (this.open !== assembly) return;
    this.open = undefined;
    this.storing = this.storing.then(() => this.store(assembly));
  }

  private async store(assembly: Assembly): Promise<void> {
    const handler = this.handler;
    if (this.stopping || handler === undefined || assembly.epoch !== this.epoch) {
      this.abandon(assembly);
      return;
    }
    const abort = new AbortController();
    this.batchAbort = abort;
    const heartbeat = (assembly.parts[0] as PartitionPart).payload.heartbeat;
    // kafkajs only heartbeats between batches; a long handler must not look
    // like a dead member, or its partitions move and the batch runs twice.
    const heartbeatTimer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        const type = (error as { type?: string }).type;
        if (type !== undefined && REBALANCE_ERRORS.has(type)) {
          if (!abort.signal.aborted) {
            this.logger.warn(
              { group: this.options.group, reason: type },
              "kafka source: the group is rebalancing; giving up the batch in hand uncommitted",
            );
          }
          abort.abort(error);
        } else {
          this.logger.debug({ err: error }, "kafka source: heartbeat during a batch failed");
        }
      });
    }, this.heartbeatIntervalMilliseconds);
    const records =
      assembly.parts.length === 1
        ? (assembly.parts[0] as PartitionPart).records
        : assembly.parts.flatMap((part) => part.records);
    try {
      await handler(records, { signal: abort.signal });
    } catch (error) {
      this.abandon(assembly);
      // Given up on request (close, rebalance): not a failure of the source.
      if (!abort.signal.aborted) void this.stop(error);
      return;
    } finally {
      clearInterval(heartbeatTimer);
      if (this.batchAbort === abort) this.batchAbort = undefined;
    }
    await this.commit(assembly);
  }

  /**
   * The batch is stored → commit last+1 of each of its partitions in one
   * request. This goes through a batch's own commit, which (unlike
   * consumer.commitOffsets) still commits while close() waits for the batch.
   */
  private async commit(assembly: Assembly): Promise<void> {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const part of assembly.parts) {
      const partitions = byTopic.get(part.topic) ?? [];
      partitions.push({ partition: part.partition, offset: part.nextOffset });
      byTopic.set(part.topic, partitions);
    }
    const first = assembly.parts[0] as PartitionPart;
    try {
      await first.payload.commitOffsetsIfNecessary({
        topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
      });
    } catch (error) {
      this.logger.warn(
        { err: error, group: this.options.group, records: assembly.records },
        "kafka source: the batch is stored but its commit was refused (rebalance or broker); " +
          "it will be read again and its events found already stored",
      );
      this.abandon(assembly);
      return;
    }
    for (const part of assembly.parts) {
      this.committedHere.add(partitionKey(part.topic, part.partition));
    }
    assembly.settle("committed");
  }

  private abandon(assembly: Assembly): void {
    if (assembly.epoch === this.epoch) this.epoch += 1;
    assembly.settle("abandoned");
  }

  /** Leaves the group and settles `start`: resolved for a close, rejected with the first failure. */
  private stop(error: unknown): Promise<void> {
    if (error !== undefined && this.failure === undefined) this.failure = error;
    if (this.stopping === undefined) {
      this.batchAbort?.abort(new Error("the source is closing"));
      clearTimeout(this.restartTimer);
      this.stopping = this.connecting
        .then(() => this.consumer.disconnect())
        .then(async () => {
          await (await this.admin?.catch(() => undefined))?.disconnect();
        })
        .then(
          () => {
            if (this.failure === undefined) this.settle?.resolve();
            else this.settle?.reject(this.failure);
          },
          (disconnectError: unknown) => this.settle?.reject(this.failure ?? disconnectError),
        );
    }
    return this.stopping;
  }
}

function toLogRecords(batch: Batch): LogRecord[] {
  return batch.messages.map((message) => ({
    topic: batch.topic,
    partition: batch.partition,
    offset: message.offset,
    key: message.key === null || message.key === undefined ? null : message.key.toString("utf8"),
    value: message.value ?? EMPTY_VALUE,
  }));
}
