// The schema checker under hostile schemas and answers: the event loop never
// stalls, every bound holds and says so, and the checker recovers.
import { afterEach, describe, expect, it } from "vitest";
import {
  BACKTRACKING_INPUT,
  BACKTRACKING_PATTERN,
  nestedArrays,
  RECURSIVE_ANY_OF,
} from "../../test/fixtures/hostile-schemas.ts";
import { SchemaChecker, type SchemaCheckerOptions } from "./schema-checker.ts";

const checkers: SchemaChecker[] = [];
function checker(options: SchemaCheckerOptions = {}): SchemaChecker {
  const made = new SchemaChecker(options);
  checkers.push(made);
  return made;
}
afterEach(async () => {
  await Promise.all(checkers.splice(0).map((made) => made.close()));
});

const json = (value: unknown) => JSON.stringify(value);
const person = json({
  type: "object",
  properties: { name: { type: "string" }, age: { type: "integer" } },
  required: ["name", "age"],
});

/** Runs `work` while a 5 ms timer measures how late the event loop answers; the worst delay, in ms. */
async function worstEventLoopDelay<T>(
  work: () => Promise<T>,
): Promise<{ result: T; worstMs: number }> {
  let last = performance.now();
  let worstMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worstMs = Math.max(worstMs, now - last - 5);
    last = now;
  }, 5);
  try {
    const result = await work();
    return { result, worstMs };
  } finally {
    clearInterval(timer);
  }
}

describe("SchemaChecker", () => {
  it("checks answers on its thread: valid, and invalid with a pointer", async () => {
    const checking = checker();
    expect(await checking.check(person, json({ name: "Ada", age: 36 }))).toEqual({ kind: "valid" });
    expect(await checking.check(person, json({ name: "Ada", age: "old" }))).toEqual({
      kind: "invalid",
      comment: "/age must be integer",
    });
  });

  it('answers "^(a+)+$" against 27 a\'s and a "!" (19.5 s before) at once, on the linear engine', async () => {
    const checking = checker();
    await checking.check(person, "{}"); // the thread started
    const evil = json({ type: "string", pattern: BACKTRACKING_PATTERN });
    const { result, worstMs } = await worstEventLoopDelay(async () => {
      const started = performance.now();
      const verdict = await checking.check(evil, json(BACKTRACKING_INPUT));
      return { verdict, ms: performance.now() - started };
    });
    expect(result.verdict).toEqual({ kind: "invalid", comment: "/ does not match its pattern" });
    expect(result.ms).toBeLessThan(500);
    expect(worstMs).toBeLessThan(100);
    // And a megabyte of a's.
    const long = await checking.check(evil, json(`${"a".repeat(1_000_000)}!`));
    expect(long).toEqual({ kind: "invalid", comment: "/ does not match its pattern" });
  });

  it("skips a pattern RE2 cannot run, and remembers it, never running it elsewhere", async () => {
    const checking = checker();
    const backreference = json({ type: "string", pattern: "^(a+)\\1$" });
    const refused = { kind: "skipped", reason: "unsupported_pattern" };
    expect(await checking.check(backreference, json("aa"))).toEqual(refused);
    expect(await checking.check(backreference, json("aa"))).toEqual(refused);
    const lookahead = json({ type: "object", patternProperties: { "^(?=a)": {} } });
    expect(await checking.check(lookahead, "{}")).toEqual(refused);
  });

  it("skips a schema that does not compile", async () => {
    const checking = checker();
    expect(await checking.check(json({ $ref: "https://elsewhere.example/schema" }), "{}")).toEqual({
      kind: "skipped",
      reason: "schema_not_compiled",
    });
  });

  // Slow on any engine: the recursive anyOf takes 2^40 steps on 40 levels,
  // and uniqueItems compares every pair of 30,000 objects.
  const exponential = json(RECURSIVE_ANY_OF);
  const nested = nestedArrays(40);
  const unique = json({ type: "array", uniqueItems: true });
  const objects = json(Array.from({ length: 30_000 }, (_, index) => ({ index })));

  it.each([
    ["a recursive anyOf over 40 levels", exponential, nested],
    ["uniqueItems over 30,000 objects", unique, objects],
  ])(
    "ends %s at the time bound, the event loop free throughout, and starts again",
    async (_case, schema, answer) => {
      const checking = checker({ timeLimitMs: 300 });
      await checking.check(person, "{}");
      const { result, worstMs } = await worstEventLoopDelay(() => checking.check(schema, answer));
      expect(result).toEqual({ kind: "skipped", reason: "time_limit" });
      expect(worstMs).toBeLessThan(100);
      // Remembered: not tried again.
      const threads = checking.threadsStarted;
      expect(await checking.check(schema, answer)).toEqual({
        kind: "skipped",
        reason: "time_limit",
      });
      expect(checking.threadsStarted).toBe(threads);
      // A fresh thread takes the next check.
      expect(await checking.check(person, json({ name: "Ada", age: 36 }))).toEqual({
        kind: "valid",
      });
      expect(checking.threadsStarted).toBe(threads + 1);
    },
  );

  it("skips checks past its queue's bound instead of queueing them", async () => {
    const checking = checker({ timeLimitMs: 300, maxQueued: 2 });
    await checking.check(person, "{}");
    const verdicts = await Promise.all(
      Array.from({ length: 5 }, (_, index) =>
        checking.check(json({ type: "array", uniqueItems: true, minItems: index }), objects),
      ),
    );
    const reasons = verdicts.map((verdict) =>
      "reason" in verdict ? verdict.reason : verdict.kind,
    );
    expect(reasons.filter((reason) => reason === "checker_busy")).toHaveLength(2);
  });

  it("skips a check past the thread's memory bound, and starts again", async () => {
    const checking = checker({ memoryLimitMb: 48, timeLimitMs: 20_000 });
    await checking.check(person, "{}");
    // Eight million characters of small objects: well over 48 MB once parsed.
    const huge = `[${Array.from({ length: 700_000 }, () => '{"a":[1]}').join(",")}]`;
    expect(await checking.check(json({ type: "array" }), huge)).toEqual({
      kind: "skipped",
      reason: "memory_limit",
    });
    expect(await checking.check(person, json({ name: "Ada", age: 36 }))).toEqual({ kind: "valid" });
  });
});

describe("SchemaChecker memory", () => {
  /** A schema no other is: 10 properties with patterns of their own and a 1,000-value enum. */
  function uniqueSchema(seed: number): string {
    const properties: Record<string, unknown> = {};
    for (let index = 0; index < 10; index++) {
      properties[`field_${seed}_${index}`] = {
        type: "string",
        pattern: `^s${seed}i${index}[a-z]*$`,
      };
    }
    properties.kind = {
      enum: Array.from({ length: 1_000 }, (_, index) => `kind-${seed}-${index}`),
    };
    return json({ type: "object", properties });
  }
  const answer = json({ kind: "kind-0-0" });
  const MB = 1024 * 1024;

  async function heapAfter(checking: SchemaChecker, from: number, count: number): Promise<number> {
    for (let seed = from; seed < from + count; seed++) {
      const verdict = await checking.check(uniqueSchema(seed), answer);
      expect(verdict.kind).not.toBe("skipped");
    }
    return checking.heapUsed();
  }

  it("holds the thread's heap within its budget across 1,000 unique large schemas", async () => {
    const checking = checker({ timeLimitMs: 10_000 });
    const start = await heapAfter(checking, 0, 1);
    const after300 = await heapAfter(checking, 1, 299);
    const after1000 = await heapAfter(checking, 300, 700);
    // The cache's heap budget is 64 MiB; what is left after a collection stays under it.
    expect(after1000).toBeLessThan(80 * MB);
    expect(after1000 - after300).toBeLessThan(16 * MB);
    expect(after1000 - start).toBeLessThan(64 * MB);
  }, 180_000);

  it("would see the growth: one Ajv kept for ever grows with every schema (the bound's control)", async () => {
    const checking = checker({
      timeLimitMs: 10_000,
      generationLimits: { schemas: Infinity, characters: Infinity, heapBytes: Infinity },
    });
    const start = await heapAfter(checking, 0, 1);
    // About 170 KB a schema: 150 of them, over 25 MB.
    const after150 = await heapAfter(checking, 1, 149);
    expect(after150 - start).toBeGreaterThan(16 * MB);
  }, 180_000);
});
