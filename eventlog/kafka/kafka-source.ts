import type { Admin, Batch, Consumer, EachBatchPayload, Kafka } from "kafkajs";
import type { Logger } from "pino";
import { defaultEventLogLogger } from "../logger.ts";
import type { BatchHandler, EventSource, LogRecord, PartitionLag } from "../ports.ts";
import {
  type Assembly,
  cutIntoRuns,
  type Effect,
  type Part,
  type PartOutcome,
  type Signal,
  SourceMachine,
} from "./source-machine.ts";

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

/** What the driver keeps with each part: the kafkajs batch it came from, and who waits on it. */
interface PartHandle {
  payload: EachBatchPayload;
  settle(outcome: PartOutcome): void;
}

/**
 * The distributed event log's reader: one member of a consumer group.
 *
 * One loop, one owner. Every kafkajs callback (eachBatch, GROUP_JOIN,
 * CRASH), timer (linger, restart, heartbeat) and promise (set-up, handler,
 * commit, disconnect) only posts a Signal; `post` hands the signals one at a
 * time to the SourceMachine (source-machine.ts), which holds all the state
 * and answers with effects, performed here in order. The fields below are the
 * resources those effects hold (the consumer, the timers, the batch in
 * hand's abort): set while performing an effect, cleared when what they hold
 * is done; no decision reads them but the effect that uses them. Ingest and
 * the gateway's fleet follower (gateway/fleet-spend.ts) both read this way.
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
 * Order of steps, and what each guarantees (SourceMachine.storeNext):
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
  private readonly options: KafkaSourceOptions;
  private readonly logger: Logger;
  private readonly maxBatchRecords: number;
  private readonly maxBatchBytes: number;
  private readonly heartbeatIntervalMilliseconds: number;
  private readonly machine: SourceMachine<PartHandle>;
  private readonly lagReader: LagReader;
  /** Signals posted while a signal is being handled wait here, in order. */
  private readonly mailbox: Signal<PartHandle>[] = [];
  private handling = false;
  /** The consumer of the current generation (`connect` effect), and its set-up settling. */
  private consumer: { generation: number; consumer: Consumer; setUp: Promise<void> } | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  /** The batch in the handler, and how to abort it. */
  private inHand: { assembly: number; abort: AbortController } | undefined;

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
    this.machine = new SourceMachine({
      maxBatchRecords: this.maxBatchRecords,
      maxBatchBytes: this.maxBatchBytes,
      startOffsets: options.startOffsets,
      firstRestartDelayMilliseconds: FIRST_RESTART_DELAY_MILLISECONDS,
      longestRestartDelayMilliseconds: LONGEST_RESTART_DELAY_MILLISECONDS,
    });
    this.lagReader = new LagReader(kafka, options.group, options.topics);
  }

  start(handler: BatchHandler): Promise<void> {
    return new Promise((resolve, reject) => {
      this.post({ type: "start", handler, waiter: { resolve, reject } });
    });
  }

  /** Aborts the batch in the handler, commits it if it was stored anyway, leaves the group; then `start` resolves. */
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.post({ type: "stop", waiter: { resolve, reject } });
    });
  }

  /** Log end offset minus the group's committed offset, per partition, from the brokers. */
  lag(): Promise<PartitionLag[]> {
    return this.lagReader.read();
  }

  /** The loop: each signal is handled to the end, its effects performed, before the next. */
  private post(signal: Signal<PartHandle>): void {
    this.mailbox.push(signal);
    if (this.handling) return;
    this.handling = true;
    try {
      for (let next = this.mailbox.shift(); next !== undefined; next = this.mailbox.shift()) {
        for (const effect of this.machine.handle(next)) {
          try {
            this.perform(effect);
          } catch (error) {
            this.logger.error(
              { err: error, group: this.options.group, effect: effect.type },
              "kafka source: performing a step failed",
            );
          }
        }
      }
    } finally {
      this.handling = false;
    }
  }

  private perform(effect: Effect<PartHandle>): void {
    switch (effect.type) {
      case "connect":
        this.connect(effect.generation);
        return;
      case "disconnect":
        if (this.consumer?.generation === effect.generation) {
          void this.consumer.consumer.disconnect().catch(() => {});
        }
        return;
      case "seek":
        if (this.consumer?.generation === effect.generation) {
          const { topic, partition, offset } = effect;
          this.consumer.consumer.seek({ topic, partition, offset });
        }
        return;
      case "armLinger": {
        clearTimeout(this.lingerTimer);
        const assembly = effect.assembly;
        this.lingerTimer = setTimeout(
          () => this.post({ type: "lingerElapsed", assembly }),
          ASSEMBLY_LINGER_MILLISECONDS,
        );
        return;
      }
      case "disarmLinger":
        clearTimeout(this.lingerTimer);
        this.lingerTimer = undefined;
        return;
      case "store":
        this.store(effect.assembly, effect.handler);
        return;
      case "abortStore":
        if (this.inHand?.assembly === effect.assembly) {
          if (effect.reason === "rebalance") {
            this.logger.warn(
              { group: this.options.group, reason: effect.cause },
              "kafka source: the group is rebalancing; giving up the batch in hand uncommitted",
            );
          }
          this.inHand.abort.abort(effect.cause);
        }
        return;
      case "commit":
        this.commit(effect.assembly);
        return;
      case "settleParts":
        for (const part of effect.parts) part.handle.settle(effect.outcome);
        return;
      case "scheduleRestart":
        this.logger.error(
          { err: effect.error, group: this.options.group, restartInMs: effect.delayMilliseconds },
          "kafka source: the consumer crashed; starting a new one from the last commit",
        );
        clearTimeout(this.restartTimer);
        this.restartTimer = setTimeout(() => {
          this.restartTimer = undefined;
          this.post({ type: "restartDue" });
        }, effect.delayMilliseconds);
        return;
      case "cancelRestart":
        clearTimeout(this.restartTimer);
        this.restartTimer = undefined;
        return;
      case "leaveGroup":
        this.leaveGroup();
        return;
      case "resolve":
        effect.waiter.resolve();
        return;
      case "reject":
        effect.waiter.reject(effect.error);
        return;
    }
  }

  /**
   * A kafkajs consumer for this member, connected, subscribed and run.
   * kafkajs's own restart after a crash is turned off: it restarts only on
   * errors it calls retriable, and a restart whose group join then fails (the
   * coordinator not yet back after a broker restart) is lost as an unhandled
   * rejection. The machine restarts instead, on every crash, with backoff.
   */
  private connect(generation: number): void {
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
      this.post({ type: "crashed", generation, error: event.payload.error });
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      this.post({ type: "groupJoined", generation, assignment: event.payload.memberAssignment });
    });
    const setUp = (async () => {
      await consumer.connect();
      await consumer.subscribe({
        topics: this.options.topics,
        fromBeginning: this.options.fromBeginning ?? true,
      });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 64,
        eachBatch: (payload) => this.onPartitionBatch(generation, payload),
      });
    })().catch((error: unknown) => {
      this.post({ type: "setUpFailed", generation, error });
    });
    this.consumer = { generation, consumer, setUp };
  }

  /**
   * kafkajs's eachBatch: the batch, cut into runs that fit the batch bounds,
   * goes to the machine; this returns once its runs are committed (each
   * resolved in turn), or at the first one given up — kafkajs then fetches
   * the rest again from the last commit, if this member still owns the
   * partition.
   */
  private async onPartitionBatch(generation: number, payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    if (!isRunning() || isStale() || batch.messages.length === 0) return;
    const waiting = cutIntoRuns(
      toLogRecords(batch),
      batch.lastOffset(),
      this.maxBatchRecords,
      this.maxBatchBytes,
    ).map((run) => {
      let settle!: (outcome: PartOutcome) => void;
      const outcome = new Promise<PartOutcome>((resolve) => {
        settle = resolve;
      });
      const part: Part<PartHandle> = {
        topic: batch.topic,
        partition: batch.partition,
        ...run,
        handle: { payload, settle },
      };
      return { part, outcome };
    });
    this.post({ type: "partsArrived", generation, parts: waiting.map(({ part }) => part) });
    for (const { part, outcome } of waiting) {
      if ((await outcome) !== "committed") return;
      payload.resolveOffset((BigInt(part.nextOffset) - 1n).toString());
    }
  }

  /** Runs the handler on the assembly, heartbeating meanwhile; its outcome comes back as a signal. */
  private store(assembly: Assembly<PartHandle>, handler: BatchHandler): void {
    const abort = new AbortController();
    const heartbeat = (assembly.parts[0] as Part<PartHandle>).handle.payload.heartbeat;
    // kafkajs only heartbeats between batches; a long handler must not look
    // like a dead member, or its partitions move and the batch runs twice.
    const heartbeatTimer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        const type = (error as { type?: string }).type;
        if (type !== undefined && REBALANCE_ERRORS.has(type)) {
          this.post({ type: "rebalanceNoticed", assembly: assembly.id, reason: type });
        } else {
          this.logger.debug({ err: error }, "kafka source: heartbeat during a batch failed");
        }
      });
    }, this.heartbeatIntervalMilliseconds);
    this.inHand = { assembly: assembly.id, abort };
    const records =
      assembly.parts.length === 1
        ? (assembly.parts[0] as Part<PartHandle>).records
        : assembly.parts.flatMap((part) => part.records);
    const finished = (): void => {
      clearInterval(heartbeatTimer);
      if (this.inHand?.assembly === assembly.id) this.inHand = undefined;
    };
    // Called inside a promise so that a handler throwing at once rejects like one that fails later.
    Promise.resolve()
      .then(() => handler(records, { signal: abort.signal }))
      .then(
        () => {
          finished();
          this.post({ type: "stored", assembly: assembly.id });
        },
        (error: unknown) => {
          finished();
          this.post({ type: "storeFailed", assembly: assembly.id, error });
        },
      );
  }

  /**
   * The batch is stored → commit last+1 of each of its partitions in one
   * request. This goes through a batch's own commit, which (unlike
   * consumer.commitOffsets) still commits while close() waits for the batch.
   */
  private commit(assembly: Assembly<PartHandle>): void {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const part of assembly.parts) {
      const partitions = byTopic.get(part.topic) ?? [];
      partitions.push({ partition: part.partition, offset: part.nextOffset });
      byTopic.set(part.topic, partitions);
    }
    const first = assembly.parts[0] as Part<PartHandle>;
    Promise.resolve()
      .then(() =>
        first.handle.payload.commitOffsetsIfNecessary({
          topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
        }),
      )
      .then(
        () => this.post({ type: "committed", assembly: assembly.id }),
        (error: unknown) => {
          this.logger.warn(
            { err: error, group: this.options.group, records: assembly.records },
            "kafka source: the batch is stored but its commit was refused (rebalance or broker); " +
              "it will be read again and its events found already stored",
          );
          this.post({ type: "commitRefused", assembly: assembly.id, error });
        },
      );
  }

  /**
   * Waits for the consumer's set-up to settle, disconnects it (kafkajs waits
   * for the batch in eachBatch, so a batch stored meanwhile is committed
   * first), then the lag client; the machine then settles `start`. The
   * machine asks for this once.
   */
  private leaveGroup(): void {
    const current = this.consumer;
    void (async () => {
      await current?.setUp;
      await current?.consumer.disconnect();
      await this.lagReader.close();
    })().then(
      () => this.post({ type: "left" }),
      (error: unknown) => this.post({ type: "left", error }),
    );
  }
}

/** The group's lag, asked of the brokers through an admin client made on first use. */
class LagReader {
  private admin: Promise<Admin> | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly group: string,
    private readonly topics: string[],
  ) {}

  async read(): Promise<PartitionLag[]> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error("consumer lag query timed out")),
        LAG_QUERY_TIMEOUT_MILLISECONDS,
      );
    });
    try {
      return await Promise.race([this.query(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await (await this.admin?.catch(() => undefined))?.disconnect();
  }

  private async query(): Promise<PartitionLag[]> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin({ retry: { retries: 1 } });
      await admin.connect();
      return admin;
    })().catch((error: unknown) => {
      this.admin = undefined;
      throw error;
    });
    const admin = await this.admin;
    const committed = await admin.fetchOffsets({ groupId: this.group, topics: this.topics });
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
