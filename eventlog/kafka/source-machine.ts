import type { BatchHandler, LogRecord } from "../ports.ts";

/**
 * The Kafka source's state, in one owner. Everything that happens to a
 * source — kafkajs hands over a fetch, the linger timer fires, the group
 * rebalances, the handler or a commit settles, the consumer crashes, close()
 * is called — arrives here as a Signal, one at a time, and `handle` answers
 * with the Effects the driver (KafkaSource) performs: start a consumer, store
 * a batch, commit it, settle a part, arm a timer. Nothing else reads or
 * writes this state, so no interleaving of callbacks can see it half-changed;
 * effects that take time come back as signals.
 *
 * Phases:
 *   idle ──start──▶ running(g) ──crashed/setUpFailed(g)──▶ restarting(g)
 *                     ▲                                        │
 *                     └────────────restartDue (g + 1)──────────┘
 *   any ──stop──▶ stopping ──left──▶ stopped
 * `g` is the consumer's generation: a signal from an older consumer (a late
 * batch, a second crash) is told apart and its parts are given up.
 *
 * Batches: a part (a run of one partition's records from one fetch) joins the
 * open assembly; an assembly is sealed when full or after the linger, and
 * queued; assemblies are stored one at a time, in order (`inHand`). See
 * `seal` and `onStored` for the order of steps and what each guarantees.
 */

export type PartOutcome = "committed" | "abandoned";

/** A run of one partition's records from one fetch. `handle` is the driver's own (its kafkajs payload). */
export interface Part<Handle> {
  topic: string;
  partition: number;
  records: LogRecord[];
  bytes: number;
  /** What to commit once the part is stored: the offset after its last record. */
  nextOffset: string;
  handle: Handle;
}

/** Parts joined into one handler batch. */
export interface Assembly<Handle> {
  id: number;
  parts: Part<Handle>[];
  records: number;
  bytes: number;
}

/** A caller waiting on `start` or `close`. */
export interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

export type Signal<Handle> =
  | { type: "start"; handler: BatchHandler; waiter: Waiter }
  /** A consumer's connect, subscribe or first join failed. */
  | { type: "setUpFailed"; generation: number; error: unknown }
  /** kafkajs reported a crash of a running consumer (it has disconnected it). */
  | { type: "crashed"; generation: number; error: unknown }
  | { type: "restartDue" }
  /** The member joined (or rejoined after a rebalance) with this assignment. */
  | { type: "groupJoined"; generation: number; assignment: Record<string, number[]> }
  /** One partition batch of a fetch, cut into parts (see cutIntoRuns). */
  | { type: "partsArrived"; generation: number; parts: Part<Handle>[] }
  | { type: "lingerElapsed"; assembly: number }
  /** A heartbeat during a batch answered that the group is rebalancing. */
  | { type: "rebalanceNoticed"; assembly: number; reason: string }
  | { type: "stored"; assembly: number }
  | { type: "storeFailed"; assembly: number; error: unknown }
  | { type: "committed"; assembly: number }
  | { type: "commitRefused"; assembly: number; error: unknown }
  /** close() (with its waiter), or a failure the source cannot ride out (with its error). */
  | { type: "stop"; waiter?: Waiter; error?: unknown }
  /** The consumer and the lag client have disconnected (or failed to). */
  | { type: "left"; error?: unknown };

export type AbortReason = "closing" | "rebalance" | "crash";

export type Effect<Handle> =
  | { type: "connect"; generation: number }
  | { type: "disconnect"; generation: number }
  | { type: "seek"; generation: number; topic: string; partition: number; offset: string }
  | { type: "armLinger"; assembly: number }
  | { type: "disarmLinger" }
  | { type: "store"; assembly: Assembly<Handle>; handler: BatchHandler }
  | { type: "abortStore"; assembly: number; reason: AbortReason; cause: unknown }
  | { type: "commit"; assembly: Assembly<Handle> }
  | { type: "settleParts"; parts: Part<Handle>[]; outcome: PartOutcome }
  | { type: "scheduleRestart"; delayMilliseconds: number; error: unknown }
  | { type: "cancelRestart" }
  | { type: "leaveGroup" }
  | { type: "resolve"; waiter: Waiter }
  | { type: "reject"; waiter: Waiter; error: unknown };

export type Phase =
  | { name: "idle" }
  | { name: "running"; generation: number }
  | { name: "restarting"; generation: number }
  | { name: "stopping" }
  | { name: "stopped" };

export interface SourceMachineOptions {
  maxBatchRecords: number;
  maxBatchBytes: number;
  /** `topic/partition` → where a partition starts the first time this member is given it. */
  startOffsets?: Map<string, string>;
  firstRestartDelayMilliseconds: number;
  longestRestartDelayMilliseconds: number;
}

interface InHand<Handle> {
  assembly: Assembly<Handle>;
  step: "storing" | "committing";
  /** Set once the handler's signal was aborted; a rejection is then not a failure. */
  aborted: AbortReason | undefined;
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

export class SourceMachine<Handle> {
  private phase: Phase = { name: "idle" };
  private handler: BatchHandler | undefined;
  private startWaiter: Waiter | undefined;
  private readonly closeWaiters: Waiter[] = [];
  private failure: unknown;
  private restartDelayMilliseconds: number;
  /** The assembly still taking parts. */
  private open: Assembly<Handle> | undefined;
  /** Sealed assemblies waiting their turn, oldest first. */
  private queue: Assembly<Handle>[] = [];
  private inHand: InHand<Handle> | undefined;
  /** Partitions this member has committed; a rejoin does not seek them back to `startOffsets`. */
  private readonly committedHere = new Set<string>();
  private nextAssemblyId = 1;
  private effects: Effect<Handle>[] = [];

  constructor(private readonly options: SourceMachineOptions) {
    this.restartDelayMilliseconds = options.firstRestartDelayMilliseconds;
  }

  /** For tests and logs: where the machine is. */
  snapshot(): {
    phase: Phase;
    open: number | undefined;
    queued: number[];
    inHand: { assembly: number; step: "storing" | "committing" } | undefined;
    restartDelayMilliseconds: number;
    committedHere: string[];
  } {
    return {
      phase: this.phase,
      open: this.open?.id,
      queued: this.queue.map((assembly) => assembly.id),
      inHand: this.inHand && { assembly: this.inHand.assembly.id, step: this.inHand.step },
      restartDelayMilliseconds: this.restartDelayMilliseconds,
      committedHere: [...this.committedHere],
    };
  }

  /** One transition: the signal changes the state, and the effects to perform come back in order. */
  handle(signal: Signal<Handle>): Effect<Handle>[] {
    this.effects = [];
    switch (signal.type) {
      case "start":
        this.onStart(signal.handler, signal.waiter);
        break;
      case "setUpFailed":
        // A consumer that never got going still holds connections.
        this.emit({ type: "disconnect", generation: signal.generation });
        this.onCrash(signal.generation, signal.error);
        break;
      case "crashed":
        this.onCrash(signal.generation, signal.error);
        break;
      case "restartDue":
        if (this.phase.name === "restarting") {
          const generation = this.phase.generation + 1;
          this.phase = { name: "running", generation };
          this.emit({ type: "connect", generation });
        }
        break;
      case "groupJoined":
        this.onGroupJoined(signal.generation, signal.assignment);
        break;
      case "partsArrived":
        this.onPartsArrived(signal.generation, signal.parts);
        break;
      case "lingerElapsed":
        if (this.open?.id === signal.assembly) this.seal();
        break;
      case "rebalanceNoticed":
        if (this.inHand?.assembly.id === signal.assembly && this.inHand.step === "storing") {
          this.abortInHand("rebalance", signal.reason);
        }
        break;
      case "stored":
        this.onStored(signal.assembly);
        break;
      case "storeFailed":
        this.onStoreFailed(signal.assembly, signal.error);
        break;
      case "committed":
        this.onCommitted(signal.assembly);
        break;
      case "commitRefused":
        if (this.inHand?.assembly.id === signal.assembly && this.inHand.step === "committing") {
          this.giveUpInHand();
          this.storeNext();
        }
        break;
      case "stop":
        this.onStop(signal.waiter, signal.error);
        break;
      case "left":
        this.onLeft(signal.error);
        break;
    }
    return this.effects;
  }

  private emit(effect: Effect<Handle>): void {
    this.effects.push(effect);
  }

  private onStart(handler: BatchHandler, waiter: Waiter): void {
    if (this.handler !== undefined) {
      this.emit({ type: "reject", waiter, error: new Error("source already started") });
      return;
    }
    if (this.phase.name !== "idle") {
      this.emit({ type: "reject", waiter, error: new Error("source is closed") });
      return;
    }
    this.handler = handler;
    this.startWaiter = waiter;
    this.phase = { name: "running", generation: 1 };
    this.emit({ type: "connect", generation: 1 });
  }

  private isCurrent(generation: number): boolean {
    return this.phase.name === "running" && this.phase.generation === generation;
  }

  /**
   * A crashed consumer (or one that never got going) is replaced by a new one
   * after a backoff (1 s doubling to 30 s by default), for as long as it
   * takes: a broker outage is waited out, not turned into a failed ingest.
   * Nothing is lost: the new consumer starts at the group's last commit,
   * which follows the last stored batch. The batch in hand is aborted and
   * everything waiting is given up, to be fetched again from that commit.
   */
  private onCrash(generation: number, error: unknown): void {
    if (!this.isCurrent(generation)) return;
    const delay = this.restartDelayMilliseconds;
    this.restartDelayMilliseconds = Math.min(
      delay * 2,
      this.options.longestRestartDelayMilliseconds,
    );
    this.phase = { name: "restarting", generation };
    this.abandonWaiting();
    this.abortInHand("crash", error);
    this.emit({ type: "scheduleRestart", delayMilliseconds: delay, error });
  }

  /** A join resets the backoff and sends partitions met for the first time to their `startOffsets`. */
  private onGroupJoined(generation: number, assignment: Record<string, number[]>): void {
    if (!this.isCurrent(generation)) return;
    this.restartDelayMilliseconds = this.options.firstRestartDelayMilliseconds;
    const startOffsets = this.options.startOffsets;
    if (startOffsets === undefined) return;
    for (const [topic, partitions] of Object.entries(assignment)) {
      for (const partition of partitions) {
        const key = partitionKey(topic, partition);
        const offset = startOffsets.get(key);
        if (offset !== undefined && !this.committedHere.has(key)) {
          this.emit({ type: "seek", generation, topic, partition, offset });
        }
      }
    }
  }

  /**
   * Parts join the open assembly until it would pass the record or byte
   * bound; a full assembly is sealed at once, a partial one after the linger
   * (which gathers the other partition batches of the same fetch). Parts of
   * an older consumer, or arriving while stopping, are given up at once.
   */
  private onPartsArrived(generation: number, parts: Part<Handle>[]): void {
    if (!this.isCurrent(generation)) {
      if (parts.length > 0) this.emit({ type: "settleParts", parts, outcome: "abandoned" });
      return;
    }
    const { maxBatchRecords, maxBatchBytes } = this.options;
    for (const part of parts) {
      const open = this.open;
      if (
        open !== undefined &&
        (open.records + part.records.length > maxBatchRecords ||
          open.bytes + part.bytes > maxBatchBytes)
      ) {
        this.seal();
      }
      let assembly = this.open;
      if (assembly === undefined) {
        assembly = { id: this.nextAssemblyId, parts: [], records: 0, bytes: 0 };
        this.nextAssemblyId += 1;
        this.open = assembly;
        this.emit({ type: "armLinger", assembly: assembly.id });
      }
      assembly.parts.push(part);
      assembly.records += part.records.length;
      assembly.bytes += part.bytes;
      if (assembly.records >= maxBatchRecords || assembly.bytes >= maxBatchBytes) this.seal();
    }
  }

  /** No more parts join the open assembly; it is stored after those queued before it. */
  private seal(): void {
    const open = this.open;
    if (open === undefined) return;
    this.emit({ type: "disarmLinger" });
    this.open = undefined;
    this.queue.push(open);
    this.storeNext();
  }

  /**
   * The order of steps for one assembly, and what each guarantees:
   *  1. store: the handler resolves → the batch is stored (ingest: inserted,
   *     rows visible). Nothing is committed yet; a crash here redelivers the
   *     batch to the partitions' next owner (at least once, never skipped).
   *  2. commit (onStored → `commit` effect): one OffsetCommit of last+1 for
   *     every partition of the batch, explicit (no auto-commit). Only now
   *     does the group move on. A refused commit (rebalance, broker) gives the
   *     batch up: it is stored, and its next reader finds its events there.
   *  3. settle the parts committed (onCommitted): kafkajs resolves their
   *     offsets and fetches past them. Given-up parts are not resolved, so
   *     kafkajs fetches them again from the last commit.
   * Only one assembly is in hand at a time, so commits follow store order.
   */
  private storeNext(): void {
    if (this.inHand !== undefined || this.phase.name !== "running") return;
    const assembly = this.queue.shift();
    const handler = this.handler;
    if (assembly === undefined || handler === undefined) return;
    this.inHand = { assembly, step: "storing", aborted: undefined };
    this.emit({ type: "store", assembly, handler });
  }

  /** Step 1 done → step 2, even when the batch's signal was aborted: it is stored all the same. */
  private onStored(assemblyId: number): void {
    const inHand = this.inHand;
    if (inHand?.assembly.id !== assemblyId || inHand.step !== "storing") return;
    inHand.step = "committing";
    this.emit({ type: "commit", assembly: inHand.assembly });
  }

  /**
   * The handler gave up: nothing of the batch is committed. Given up on
   * request (close, rebalance, crash) it is not a failure of the source;
   * otherwise the source stops with the handler's error.
   */
  private onStoreFailed(assemblyId: number, error: unknown): void {
    const inHand = this.inHand;
    if (inHand?.assembly.id !== assemblyId || inHand.step !== "storing") return;
    const aborted = inHand.aborted !== undefined;
    this.giveUpInHand();
    if (aborted) this.storeNext();
    else this.onStop(undefined, error);
  }

  /** Step 2 done → step 3. */
  private onCommitted(assemblyId: number): void {
    const inHand = this.inHand;
    if (inHand?.assembly.id !== assemblyId || inHand.step !== "committing") return;
    this.inHand = undefined;
    for (const part of inHand.assembly.parts) {
      this.committedHere.add(partitionKey(part.topic, part.partition));
    }
    this.emit({ type: "settleParts", parts: inHand.assembly.parts, outcome: "committed" });
    this.storeNext();
  }

  private abortInHand(reason: AbortReason, cause: unknown): void {
    const inHand = this.inHand;
    if (inHand === undefined || inHand.step !== "storing" || inHand.aborted !== undefined) return;
    inHand.aborted = reason;
    this.emit({ type: "abortStore", assembly: inHand.assembly.id, reason, cause });
  }

  /**
   * The batch in hand is given up uncommitted, and with it every assembly
   * opened before now: one may hold a later run of a partition whose earlier
   * run was just given up, and committing it would skip that run. kafkajs
   * fetches all of them again from the commits.
   */
  private giveUpInHand(): void {
    const inHand = this.inHand;
    if (inHand === undefined) return;
    this.inHand = undefined;
    this.emit({ type: "settleParts", parts: inHand.assembly.parts, outcome: "abandoned" });
    this.abandonWaiting();
  }

  /** Gives up the open and the queued assemblies, uncommitted. */
  private abandonWaiting(): void {
    if (this.open !== undefined) {
      this.emit({ type: "disarmLinger" });
      this.queue.push(this.open);
      this.open = undefined;
    }
    const parts = this.queue.flatMap((assembly) => assembly.parts);
    this.queue = [];
    if (parts.length > 0) this.emit({ type: "settleParts", parts, outcome: "abandoned" });
  }

  /**
   * Stopping: everything waiting is given up, the batch in hand is aborted
   * (if its handler resolves anyway it is committed as usual), a pending
   * restart is cancelled, and the member leaves the group (which waits for
   * the batch in hand). The first failure is what `start` rejects with.
   */
  private onStop(waiter: Waiter | undefined, error: unknown): void {
    if (error !== undefined && this.failure === undefined) this.failure = error;
    if (this.phase.name === "stopped") {
      if (waiter !== undefined) this.emit({ type: "resolve", waiter });
      return;
    }
    if (waiter !== undefined) this.closeWaiters.push(waiter);
    if (this.phase.name === "stopping") return;
    if (this.phase.name === "restarting") this.emit({ type: "cancelRestart" });
    this.phase = { name: "stopping" };
    this.abandonWaiting();
    this.abortInHand("closing", new Error("the source is closing"));
    this.emit({ type: "leaveGroup" });
  }

  /** `start` settles (resolved for a close, rejected with the first failure); every close() resolves. */
  private onLeft(error: unknown): void {
    if (this.phase.name !== "stopping") return;
    this.phase = { name: "stopped" };
    const startWaiter = this.startWaiter;
    this.startWaiter = undefined;
    if (startWaiter !== undefined) {
      const failure = this.failure ?? error;
      if (failure === undefined) this.emit({ type: "resolve", waiter: startWaiter });
      else this.emit({ type: "reject", waiter: startWaiter, error: failure });
    }
    for (const waiter of this.closeWaiters.splice(0)) this.emit({ type: "resolve", waiter });
  }
}

export interface Run {
  records: LogRecord[];
  bytes: number;
  nextOffset: string;
}

/**
 * A partition batch's records in runs of at most `maxRecords` and `maxBytes`
 * of values (one record at least, however big). The last run commits past
 * `lastOffset`, the batch's end, which may be a control record.
 */
export function cutIntoRuns(
  records: LogRecord[],
  lastOffset: string,
  maxRecords: number,
  maxBytes: number,
): Run[] {
  const runs: Run[] = [];
  let start = 0;
  while (start < records.length) {
    let end = start;
    let bytes = 0;
    while (end < records.length && end - start < maxRecords) {
      const recordBytes = (records[end] as LogRecord).value.length;
      if (end > start && bytes + recordBytes > maxBytes) break;
      bytes += recordBytes;
      end += 1;
    }
    const last = end === records.length;
    runs.push({
      records: start === 0 && last ? records : records.slice(start, end),
      bytes,
      nextOffset: (
        BigInt(last ? lastOffset : (records[end - 1] as LogRecord).offset) + 1n
      ).toString(),
    });
    start = end;
  }
  return runs;
}
