import { describe, expect, it } from "vitest";
import type { BatchHandler, LogRecord } from "../ports.ts";
import {
  cutIntoRuns,
  type Effect,
  type Part,
  type Signal,
  SourceMachine,
  type SourceMachineOptions,
  type Waiter,
} from "./source-machine.ts";

// The machine's transitions, driven signal by signal with no Kafka: each
// test feeds signals and checks the effects that come back, in order.

type Handle = string;

const handler: BatchHandler = async () => {};

function machineWith(overrides: Partial<SourceMachineOptions> = {}): SourceMachine<Handle> {
  return new SourceMachine<Handle>({
    maxBatchRecords: 10,
    maxBatchBytes: 1_000,
    firstRestartDelayMilliseconds: 1_000,
    longestRestartDelayMilliseconds: 4_000,
    ...overrides,
  });
}

function waiter(): Waiter & { outcome: string | undefined } {
  const recorded: Waiter & { outcome: string | undefined } = {
    outcome: undefined,
    resolve() {
      recorded.outcome = "resolved";
    },
    reject(error) {
      recorded.outcome = `rejected: ${(error as Error).message}`;
    },
  };
  return recorded;
}

function record(topic: string, partition: number, offset: number, bytes = 10): LogRecord {
  return { topic, partition, offset: String(offset), key: null, value: Buffer.alloc(bytes) };
}

/** A part of `count` records of 10 bytes from `offset` on; its handle names it. */
function part(topic: string, partition: number, offset: number, count = 1): Part<Handle> {
  const records = Array.from({ length: count }, (_, index) =>
    record(topic, partition, offset + index),
  );
  return {
    topic,
    partition,
    records,
    bytes: count * 10,
    nextOffset: String(offset + count),
    handle: `${topic}/${partition}@${offset}`,
  };
}

/** Effects as short strings, handles and ids in place of objects. */
function describeEffects(effects: Effect<Handle>[]): string[] {
  return effects.map((effect) => {
    switch (effect.type) {
      case "connect":
      case "disconnect":
        return `${effect.type} ${effect.generation}`;
      case "seek":
        return `seek ${effect.topic}/${effect.partition} to ${effect.offset}`;
      case "armLinger":
        return `armLinger ${effect.assembly}`;
      case "store":
        return `store ${effect.assembly.id} [${effect.assembly.parts.map((one) => one.handle).join(" ")}]`;
      case "commit":
        return `commit ${effect.assembly.id}`;
      case "abortStore":
        return `abortStore ${effect.assembly} (${effect.reason})`;
      case "settleParts":
        return `${effect.outcome} [${effect.parts.map((one) => one.handle).join(" ")}]`;
      case "scheduleRestart":
        return `scheduleRestart in ${effect.delayMilliseconds}`;
      case "resolve":
      case "reject":
        return effect.type;
      default:
        return effect.type;
    }
  });
}

/** A started machine with generation 1 running. */
function started(overrides: Partial<SourceMachineOptions> = {}) {
  const machine = machineWith(overrides);
  const start = waiter();
  machine.handle({ type: "start", handler, waiter: start });
  const handle = (signal: Signal<Handle>) => describeEffects(machine.handle(signal));
  return { machine, start, handle };
}

describe("SourceMachine", () => {
  it("connects the first consumer on start and refuses a second start", () => {
    const machine = machineWith();
    const first = waiter();
    expect(describeEffects(machine.handle({ type: "start", handler, waiter: first }))).toEqual([
      "connect 1",
    ]);
    const second = waiter();
    const effects = machine.handle({ type: "start", handler, waiter: second });
    expect(describeEffects(effects)).toEqual(["reject"]);
    expect(effects[0]).toMatchObject({ error: new Error("source already started") });
    expect(machine.snapshot().phase).toEqual({ name: "running", generation: 1 });
  });

  it("stores, then commits, then settles the parts committed, in that order", () => {
    const { machine, handle } = started();
    expect(handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0, 2)] })).toEqual([
      "armLinger 1",
    ]);
    expect(handle({ type: "partsArrived", generation: 1, parts: [part("a", 1, 5)] })).toEqual([]);
    expect(handle({ type: "lingerElapsed", assembly: 1 })).toEqual([
      "disarmLinger",
      "store 1 [a/0@0 a/1@5]",
    ]);
    expect(handle({ type: "stored", assembly: 1 })).toEqual(["commit 1"]);
    expect(machine.snapshot().inHand).toEqual({ assembly: 1, step: "committing" });
    expect(handle({ type: "committed", assembly: 1 })).toEqual(["committed [a/0@0 a/1@5]"]);
    expect(machine.snapshot()).toMatchObject({ inHand: undefined, committedHere: ["a/0", "a/1"] });
  });

  it("seals a full assembly at once, and seals the open one before a part that would overflow it", () => {
    const { handle } = started({ maxBatchRecords: 3 });
    expect(handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0, 2)] })).toEqual([
      "armLinger 1",
    ]);
    // 2 + 2 > 3: the open assembly goes first, the part opens the next.
    expect(handle({ type: "partsArrived", generation: 1, parts: [part("a", 1, 0, 2)] })).toEqual([
      "disarmLinger",
      "store 1 [a/0@0]",
      "armLinger 2",
    ]);
    // 2 + 1 = 3: full, sealed without waiting for the linger, queued behind 1.
    expect(handle({ type: "partsArrived", generation: 1, parts: [part("a", 2, 0, 1)] })).toEqual([
      "disarmLinger",
    ]);
    expect(handle({ type: "lingerElapsed", assembly: 2 })).toEqual([]);
    expect(handle({ type: "stored", assembly: 1 })).toEqual(["commit 1"]);
    expect(handle({ type: "committed", assembly: 1 })).toEqual([
      "committed [a/0@0]",
      "store 2 [a/1@0 a/2@0]",
    ]);
  });

  it("gives up the batch and everything opened before it when its commit is refused", () => {
    const { machine, handle } = started({ maxBatchRecords: 2 });
    handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0, 2)] });
    // Sealed and queued behind 1, then one more open.
    handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 2, 2), part("a", 1, 0)] });
    expect(machine.snapshot()).toMatchObject({ inHand: { assembly: 1 }, queued: [2], open: 3 });
    handle({ type: "stored", assembly: 1 });
    expect(handle({ type: "commitRefused", assembly: 1, error: new Error("rebalance") })).toEqual([
      "abandoned [a/0@0]",
      "disarmLinger",
      "abandoned [a/0@2 a/1@0]",
    ]);
    expect(machine.snapshot()).toMatchObject({ inHand: undefined, queued: [], open: undefined });
    // The source carries on: the next fetch makes a new assembly.
    expect(handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0, 2)] })).toEqual([
      "armLinger 4",
      "disarmLinger",
      "store 4 [a/0@0]",
    ]);
  });

  it("aborts the batch once on a rebalance and carries on when its handler gives up", () => {
    const { machine, start, handle } = started();
    handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0)] });
    handle({ type: "lingerElapsed", assembly: 1 });
    const rebalance: Signal<Handle> = {
      type: "rebalanceNoticed",
      assembly: 1,
      reason: "REBALANCE_IN_PROGRESS",
    };
    expect(handle(rebalance)).toEqual(["abortStore 1 (rebalance)"]);
    expect(handle(rebalance)).toEqual([]);
    expect(handle({ type: "storeFailed", assembly: 1, error: new Error("aborted") })).toEqual([
      "abandoned [a/0@0]",
    ]);
    expect(machine.snapshot().phase).toEqual({ name: "running", generation: 1 });
    expect(start.outcome).toBeUndefined();
  });

  it("stops with the handler's error when it fails unasked, and start rejects with it", () => {
    const { machine, start } = started();
    machine.handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0)] });
    machine.handle({ type: "lingerElapsed", assembly: 1 });
    const effects = machine.handle({
      type: "storeFailed",
      assembly: 1,
      error: new Error("bad batch"),
    });
    expect(describeEffects(effects)).toEqual(["abandoned [a/0@0]", "leaveGroup"]);
    expect(machine.snapshot().phase).toEqual({ name: "stopping" });
    for (const effect of machine.handle({ type: "left" })) {
      if (effect.type === "reject") effect.waiter.reject(effect.error);
    }
    expect(start.outcome).toBe("rejected: bad batch");
  });

  it("restarts a crashed consumer with a doubling backoff, reset by a join, and drops the old one's batches", () => {
    const { machine, handle } = started();
    handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0)] });
    handle({ type: "lingerElapsed", assembly: 1 });
    handle({ type: "partsArrived", generation: 1, parts: [part("a", 1, 0)] });
    expect(handle({ type: "crashed", generation: 1, error: new Error("broker gone") })).toEqual([
      "disarmLinger",
      "abandoned [a/1@0]",
      "abortStore 1 (crash)",
      "scheduleRestart in 1000",
    ]);
    // A second report of the same crash changes nothing.
    expect(handle({ type: "setUpFailed", generation: 1, error: new Error("again") })).toEqual([
      "disconnect 1",
    ]);
    expect(handle({ type: "storeFailed", assembly: 1, error: new Error("aborted") })).toEqual([
      "abandoned [a/0@0]",
    ]);
    expect(handle({ type: "restartDue" })).toEqual(["connect 2"]);
    // A late batch of the first consumer is given up at once.
    expect(handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0)] })).toEqual([
      "abandoned [a/0@0]",
    ]);
    expect(
      handle({ type: "setUpFailed", generation: 2, error: new Error("no coordinator") }),
    ).toEqual(["disconnect 2", "scheduleRestart in 2000"]);
    expect(handle({ type: "restartDue" })).toEqual(["connect 3"]);
    expect(handle({ type: "crashed", generation: 3, error: new Error("x") })).toEqual([
      "scheduleRestart in 4000",
    ]);
    handle({ type: "restartDue" });
    expect(handle({ type: "crashed", generation: 4, error: new Error("x") })).toEqual([
      "scheduleRestart in 4000",
    ]);
    handle({ type: "restartDue" });
    handle({ type: "groupJoined", generation: 5, assignment: { a: [0] } });
    expect(machine.snapshot().restartDelayMilliseconds).toBe(1_000);
  });

  it("seeks partitions to their start offsets on a join, except those it has committed", () => {
    const { handle } = started({
      startOffsets: new Map([
        ["a/0", "7"],
        ["a/1", "9"],
      ]),
    });
    expect(handle({ type: "groupJoined", generation: 1, assignment: { a: [0, 1, 2] } })).toEqual([
      "seek a/0 to 7",
      "seek a/1 to 9",
    ]);
    handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 7)] });
    handle({ type: "lingerElapsed", assembly: 1 });
    handle({ type: "stored", assembly: 1 });
    handle({ type: "committed", assembly: 1 });
    // After a rebalance the member rejoins: a/0 carries on from its commit.
    expect(handle({ type: "groupJoined", generation: 1, assignment: { a: [0, 1] } })).toEqual([
      "seek a/1 to 9",
    ]);
  });

  it("on close aborts the batch in hand, still commits it once stored, gives up the rest, then settles", () => {
    const { machine, start, handle } = started({ maxBatchRecords: 1 });
    handle({ type: "partsArrived", generation: 1, parts: [part("a", 0, 0), part("a", 1, 0)] });
    handle({ type: "partsArrived", generation: 1, parts: [part("a", 2, 0)] });
    const close = waiter();
    const effects = machine.handle({ type: "stop", waiter: close });
    expect(describeEffects(effects)).toEqual([
      "abandoned [a/1@0 a/2@0]",
      "abortStore 1 (closing)",
      "leaveGroup",
    ]);
    // A second close waits for the same end.
    const secondClose = waiter();
    expect(handle({ type: "stop", waiter: secondClose })).toEqual([]);
    // Parts kafkajs hands over meanwhile are given up.
    expect(handle({ type: "partsArrived", generation: 1, parts: [part("a", 3, 0)] })).toEqual([
      "abandoned [a/3@0]",
    ]);
    expect(handle({ type: "stored", assembly: 1 })).toEqual(["commit 1"]);
    expect(handle({ type: "committed", assembly: 1 })).toEqual(["committed [a/0@0]"]);
    for (const effect of machine.handle({ type: "left" })) {
      if (effect.type === "resolve") effect.waiter.resolve();
    }
    expect([start.outcome, close.outcome, secondClose.outcome]).toEqual([
      "resolved",
      "resolved",
      "resolved",
    ]);
    // Closed: a close resolves at once.
    expect(handle({ type: "stop", waiter: waiter() })).toEqual(["resolve"]);
  });

  it("cancels a pending restart on close", () => {
    const { machine, handle } = started();
    handle({ type: "crashed", generation: 1, error: new Error("x") });
    expect(handle({ type: "stop", waiter: waiter() })).toEqual(["cancelRestart", "leaveGroup"]);
    expect(handle({ type: "restartDue" })).toEqual([]);
    expect(machine.snapshot().phase).toEqual({ name: "stopping" });
  });

  it("closes before start, then refuses to start", () => {
    const machine = machineWith();
    const close = waiter();
    expect(describeEffects(machine.handle({ type: "stop", waiter: close }))).toEqual([
      "leaveGroup",
    ]);
    expect(describeEffects(machine.handle({ type: "left" }))).toEqual(["resolve"]);
    const effects = machine.handle({ type: "start", handler, waiter: waiter() });
    expect(effects[0]).toMatchObject({ type: "reject", error: new Error("source is closed") });
  });

  it("rejects start with the disconnect's error when leaving fails", () => {
    const { machine } = started();
    machine.handle({ type: "stop", waiter: waiter() });
    const effects = machine.handle({ type: "left", error: new Error("disconnect failed") });
    expect(effects[0]).toMatchObject({ type: "reject", error: new Error("disconnect failed") });
    expect(effects[1]).toMatchObject({ type: "resolve" });
  });
});

describe("cutIntoRuns", () => {
  const records = [0, 1, 2, 3, 4].map((offset) => record("a", 0, offset, 10));

  it("keeps a batch within the bounds whole and commits past its last offset", () => {
    const runs = cutIntoRuns(records, "5", 10, 1_000);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.records).toBe(records);
    expect(runs[0]).toMatchObject({ bytes: 50, nextOffset: "6" });
  });

  it("cuts by records and by bytes, one record at least however big", () => {
    expect(cutIntoRuns(records, "4", 2, 1_000).map((run) => run.nextOffset)).toEqual([
      "2",
      "4",
      "5",
    ]);
    expect(cutIntoRuns(records, "4", 10, 25).map((run) => run.records.length)).toEqual([2, 2, 1]);
    expect(cutIntoRuns(records, "4", 10, 5).map((run) => run.bytes)).toEqual([10, 10, 10, 10, 10]);
  });
});
