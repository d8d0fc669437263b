// JSON Schema checks of answers, off the event loop and bounded. A client's
// schema decides how much work a check is, and some schemas are made to be
// slow whatever the regular-expression engine: on one thread, compiling a
// 2,000-property schema took 2.4 s, `uniqueItems` over 30,000 objects 17 s,
// and a recursive `anyOf` doubles its time with each level of the answer's
// nesting. So checks run on a worker thread (worker.ts), one at a time, each
// within a time bound; past it the thread is ended and started again, and the
// check is skipped with its reason. The thread's heap has a bound of its own
// (past it the thread dies and the check is skipped), the queue is bounded in
// checks and characters (past it, skipped), and a schema that was refused or
// hit a bound is remembered, so it is never tried again while remembered.
//
// Nothing here ever blocks the event loop: a check is a message out and a
// message back.
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { GenerationLimits } from "./validator-cache.ts";
import type {
  CheckRequest,
  CheckVerdict,
  WorkerMessage,
  WorkerOptions,
  WorkerRequest,
} from "./worker.ts";

/** Why a check was not made; each is a category of the `json_schema_skipped` score. */
export type SkipReason =
  | "unsupported_pattern"
  | "schema_not_compiled"
  | "time_limit"
  | "memory_limit"
  | "checker_busy"
  | "checker_failed"
  | "answer_too_long";

export type SchemaVerdict =
  | { kind: "valid" }
  | { kind: "invalid"; comment: string }
  | { kind: "skipped"; reason: SkipReason };

export interface SchemaCheckerOptions {
  /** Most milliseconds one check (compiling the schema when new, then validating) may take. */
  timeLimitMs?: number;
  /** Most checks waiting for the thread. */
  maxQueued?: number;
  /** Most characters (schemas and answers) waiting for the thread. */
  maxQueuedCharacters?: number;
  /** The thread's old-generation heap, in MB. */
  memoryLimitMb?: number;
  /** When the thread's validator cache starts a new generation (validator-cache.ts). */
  generationLimits?: GenerationLimits;
}

const DEFAULTS: Omit<Required<SchemaCheckerOptions>, "generationLimits"> = {
  timeLimitMs: 1_000,
  maxQueued: 64,
  maxQueuedCharacters: 16 * 1024 * 1024,
  memoryLimitMb: 256,
};

/** How long the thread may take to start (loading tsx, Ajv and RE2) before its checks are skipped. */
const START_LIMIT_MS = 30_000;
/** Schemas remembered as refused or too costly. */
const MAX_REMEMBERED = 1_024;
const WORKER_ENTRY = new URL("./worker-entry.mjs", import.meta.url);

interface Job {
  request: CheckRequest;
  characters: number;
  resolve(verdict: SchemaVerdict): void;
}

export class SchemaChecker {
  private readonly options: typeof DEFAULTS & SchemaCheckerOptions;
  private worker: Worker | null = null;
  private ready = false;
  private startTimer: NodeJS.Timeout | null = null;
  private readonly queue: Job[] = [];
  private queuedCharacters = 0;
  private inFlight: Job | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  private readonly remembered = new Map<string, SkipReason>();
  private idle: (() => void)[] = [];
  private started = 0;
  private heapReader: ((usedBytes: number) => void) | null = null;

  constructor(options: SchemaCheckerOptions = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** Checks the answer's text (already known to be JSON) against the schema. Never rejects. */
  check(schemaJson: string, text: string): Promise<SchemaVerdict> {
    const key = createHash("sha256").update(schemaJson).digest("hex");
    const known = this.remembered.get(key);
    if (known) return Promise.resolve({ kind: "skipped", reason: known });
    const characters = schemaJson.length + text.length;
    if (
      this.queue.length >= this.options.maxQueued ||
      this.queuedCharacters + characters > this.options.maxQueuedCharacters
    ) {
      return Promise.resolve({ kind: "skipped", reason: "checker_busy" });
    }
    return new Promise((resolve) => {
      this.queue.push({
        request: { type: "check", id: this.nextId++, key, schemaJson, text },
        characters,
        resolve,
      });
      this.queuedCharacters += characters;
      this.pump();
    });
  }

  /** Resolves once no check is waiting or running. */
  settled(): Promise<void> {
    if (this.inFlight === null && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * The thread's heap in use after a full collection, in bytes (for tests);
   * call when no check is waiting or running.
   */
  async heapUsed(): Promise<number> {
    await this.settled();
    const worker = this.worker;
    if (worker === null || !this.ready) throw new Error("the checker's thread is not running");
    return new Promise((resolve) => {
      this.heapReader = resolve;
      worker.postMessage({ type: "heap" } satisfies WorkerRequest);
    });
  }

  /** How many threads were started: one, plus one per check ended at a bound (for tests). */
  get threadsStarted(): number {
    return this.started;
  }

  /** Ends the thread; checks still waiting are skipped. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.stopWorker();
    this.failAll("checker_failed");
    await worker?.terminate();
  }

  private pump(): void {
    if (this.inFlight !== null) return;
    if (this.queue.length === 0) {
      for (const resolve of this.idle.splice(0)) resolve();
      return;
    }
    if (this.worker === null) {
      this.startWorker();
      return;
    }
    if (!this.ready) return;
    const job = this.queue.shift() as Job;
    this.queuedCharacters -= job.characters;
    this.inFlight = job;
    this.checkTimer = setTimeout(() => this.endAtBound("time_limit"), this.options.timeLimitMs);
    this.checkTimer.unref();
    this.worker.postMessage(job.request);
  }

  private startWorker(): void {
    const worker = new Worker(WORKER_ENTRY, {
      resourceLimits: { maxOldGenerationSizeMb: this.options.memoryLimitMb },
      workerData: { generationLimits: this.options.generationLimits } satisfies WorkerOptions,
    });
    this.started += 1;
    // The checker never keeps a process alive by itself.
    worker.unref();
    this.worker = worker;
    this.ready = false;
    this.startTimer = setTimeout(() => this.workerFailed(worker, null), START_LIMIT_MS);
    this.startTimer.unref();
    worker.on("message", (message: WorkerMessage) => this.received(worker, message));
    worker.on("error", (error) => this.workerFailed(worker, error));
    worker.on("exit", () => this.workerFailed(worker, null));
  }

  private received(worker: Worker, message: WorkerMessage): void {
    if (worker !== this.worker) return;
    if (message.type === "ready") {
      this.ready = true;
      this.clearTimer("startTimer");
      this.pump();
      return;
    }
    if (message.type === "heap") {
      this.heapReader?.(message.usedBytes);
      this.heapReader = null;
      return;
    }
    const job = this.inFlight;
    if (job === null || job.request.id !== message.id) return;
    this.clearTimer("checkTimer");
    this.inFlight = null;
    job.resolve(this.verdictOf(job.request.key, message.verdict));
    this.pump();
  }

  private verdictOf(key: string, verdict: CheckVerdict): SchemaVerdict {
    if (verdict.kind !== "refused") return verdict;
    if (verdict.reason !== "checker_failed") this.remember(key, verdict.reason);
    return { kind: "skipped", reason: verdict.reason };
  }

  /** The check in flight passed a bound: the thread is ended (the only way to stop it) and started anew. */
  private endAtBound(reason: "time_limit" | "memory_limit"): void {
    const job = this.inFlight;
    this.inFlight = null;
    this.stopWorker();
    if (job) {
      this.remember(job.request.key, reason);
      job.resolve({ kind: "skipped", reason });
    }
    this.pump();
  }

  private workerFailed(worker: Worker, error: Error | null): void {
    if (worker !== this.worker) return;
    const outOfMemory =
      (error as NodeJS.ErrnoException | null)?.code === "ERR_WORKER_OUT_OF_MEMORY";
    if (outOfMemory) {
      this.endAtBound("memory_limit");
      return;
    }
    const wasReady = this.ready;
    const job = this.inFlight;
    this.inFlight = null;
    this.stopWorker();
    job?.resolve({ kind: "skipped", reason: "checker_failed" });
    // A thread that cannot start would fail every restart: the waiting checks are skipped.
    if (!wasReady) this.failAll("checker_failed");
    this.pump();
  }

  private stopWorker(): void {
    this.clearTimer("checkTimer");
    this.clearTimer("startTimer");
    const worker = this.worker;
    this.worker = null;
    this.ready = false;
    if (worker) void worker.terminate();
  }

  private failAll(reason: SkipReason): void {
    for (const job of this.queue.splice(0)) job.resolve({ kind: "skipped", reason });
    this.queuedCharacters = 0;
    const job = this.inFlight;
    this.inFlight = null;
    job?.resolve({ kind: "skipped", reason });
    for (const resolve of this.idle.splice(0)) resolve();
  }

  private remember(key: string, reason: SkipReason): void {
    if (this.remembered.size >= MAX_REMEMBERED) {
      const oldest = this.remembered.keys().next().value;
      if (oldest !== undefined) this.remembered.delete(oldest);
    }
    this.remembered.set(key, reason);
  }

  private clearTimer(name: "checkTimer" | "startTimer"): void {
    const timer = this[name];
    if (timer) clearTimeout(timer);
    this[name] = null;
  }
}
