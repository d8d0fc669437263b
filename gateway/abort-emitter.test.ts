import { describe, expect, it } from "vitest";
import { AbortEmitter, sleepUnlessAborted } from "./abort-emitter.ts";

describe("AbortEmitter", () => {
  it("aborts once, keeping the first reason, and tells each listener once", () => {
    const abort = new AbortEmitter();
    const heard: unknown[] = [];
    abort.on("abort", () => heard.push(abort.reason));
    abort.abort("first");
    abort.abort("second");
    expect([abort.aborted, abort.reason, heard]).toEqual([true, "first", ["first"]]);
  });

  it("a sleep ends early when aborted, and leaves no listener behind", async () => {
    const abort = new AbortEmitter();
    const started = Date.now();
    const sleeping = sleepUnlessAborted(60_000, abort);
    abort.abort("gone");
    await sleeping;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(abort.listenerCount("abort")).toBe(0);
  });

  it("a sleep that runs its course removes its listener", async () => {
    const abort = new AbortEmitter();
    await sleepUnlessAborted(5, abort);
    expect([abort.aborted, abort.listenerCount("abort")]).toEqual([false, 0]);
  });

  it("an already aborted emitter does not sleep at all", async () => {
    const abort = new AbortEmitter();
    abort.abort("gone");
    await sleepUnlessAborted(60_000, abort);
    expect(abort.listenerCount("abort")).toBe(0);
  });
});
