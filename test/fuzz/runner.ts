// The property runner shared by every API's fuzz target. A target checks one
// generated input and returns the properties it broke (never throws for a
// broken property), so one run can count every violating input instead of
// stopping at the first. Two ways to run a target:
//
// - `npm test` (fuzz-target.test.ts files): FUZZ_RUNS inputs (default
//   DEFAULT_TEST_RUNS), fast-check's own assert, which shrinks the first
//   violating input and fails the test with it.
// - `npm run fuzz` (main.ts): FUZZ_RUNS inputs per API (default 100,000).
//   Pass 1 checks every input and counts violations per property; pass 2
//   replays the first violating input of each property (same seed, its run
//   index as fast-check's `path`) and shrinks it to a small counterexample.
import fc from "fast-check";

/** One property an input broke, and what was seen. */
export interface Violation {
  property: string;
  detail: string;
  /**
   * A timing property (/healthz within 100 ms): counted only when the same
   * input breaks it again, so a process descheduled by the machine for a
   * moment is not taken for a stalled event loop.
   */
  confirm?: boolean;
}

/** The input's violations; a timing one only if a second run of the same input breaks it too. */
export async function confirmedViolations<Input>(
  target: StartedTarget<Input>,
  input: Input,
): Promise<Violation[]> {
  const violations = await target.check(input);
  if (!violations.some((each) => each.confirm)) return violations;
  const again = new Set(
    (await target.check(input)).filter((each) => each.confirm).map((each) => each.property),
  );
  return violations.filter((each) => !each.confirm || again.has(each.property));
}

/** What a target gives the runner once started: inputs, their check, and the way out. */
export interface StartedTarget<Input> {
  arbitrary: fc.Arbitrary<Input>;
  /** The properties this input broke; empty when it kept them all. */
  check(input: Input): Promise<Violation[]>;
  /** Counts a target keeps beside the runner's (answers by status, queries run, …). */
  stats?(): Record<string, number | string>;
  stop(): Promise<void>;
}

/** One API's fuzz target: how to start its apps, fake vendors and sinks. */
export interface FuzzTarget<Input> {
  api: string;
  start(): Promise<StartedTarget<Input>>;
}

/** Inputs per API in `npm test`: the whole suite's added time stays well under a minute. */
export const DEFAULT_TEST_RUNS = 60;
/** Inputs per API in `npm run fuzz`. */
export const DEFAULT_FUZZ_RUNS = 100_000;

/** FUZZ_RUNS when set (a positive integer), else the mode's default. */
export function runsFromEnvironment(fallback: number): number {
  const text = process.env.FUZZ_RUNS;
  if (text === undefined || text === "") return fallback;
  const runs = Number(text);
  if (!Number.isSafeInteger(runs) || runs < 1) {
    throw new Error(`FUZZ_RUNS must be a positive integer, not ${JSON.stringify(text)}`);
  }
  return runs;
}

/** FUZZ_SEED when set, so a run repeats; else a fresh one (printed with every result). */
export function seedFromEnvironment(): number {
  const text = process.env.FUZZ_SEED;
  if (text !== undefined && text !== "") return Number(text) | 0;
  return (Math.random() * 2 ** 31) | 0;
}

export function describeViolations(violations: readonly Violation[]): string {
  return violations.map((each) => `${each.property}: ${each.detail}`).join("\n");
}

/** Inputs checked, their results unread, before a run: the first requests compile code for a while. */
const WARM_UP_INPUTS = 40;

/**
 * Sends a few inputs (a fixed seed) whose results count for nothing, so the
 * JIT's first compilations are not taken for a stalled event loop.
 */
export async function warmUp<Input>(target: StartedTarget<Input>): Promise<void> {
  for (const input of fc.sample(target.arbitrary, { seed: 42, numRuns: WARM_UP_INPUTS })) {
    await target.check(input);
  }
}

/** For vitest: fast-check asserts that no input breaks a property, and shrinks the first that does. */
export async function assertNoViolations<Input>(
  target: StartedTarget<Input>,
  runs: number,
  seed: number,
): Promise<void> {
  await warmUp(target);
  await fc.assert(
    fc.asyncProperty(target.arbitrary, async (input) => {
      const violations = await confirmedViolations(target, input);
      if (violations.length > 0) throw new Error(describeViolations(violations));
    }),
    // FUZZ_PATH (with FUZZ_SEED) replays one input a fuzz run reported.
    { numRuns: runs, seed, path: process.env.FUZZ_PATH || undefined },
  );
}

/** One property's count in a fuzz run, and its first violating input shrunk. */
export interface PropertyReport {
  property: string;
  /** How many inputs broke it. */
  inputs: number;
  /** The first violation's detail, and after shrinking the smallest input found that still breaks it. */
  detail: string;
  shrunkDetail: string | null;
  counterexample: string;
  /** Replays it: FUZZ_SEED and this path (fast-check's counterexamplePath). */
  path: string;
}

export interface FuzzReport {
  api: string;
  seed: number;
  inputs: number;
  /** Inputs that broke at least one property. */
  violatingInputs: number;
  properties: PropertyReport[];
  durationMs: number;
  stats: Record<string, number | string>;
}

/** How long one property's counterexample is shrunk. */
const SHRINK_TIME_LIMIT_MS = 20_000;

/** The longest rendering of a counterexample a report keeps. */
const MAX_COUNTEREXAMPLE_LENGTH = 4000;

/** An input as fast-check writes it, runs of one character shortened (`x{×30000}`), bounded. */
export function renderInput(input: unknown): string {
  const text = fc
    .stringify(input)
    .replace(/(.)\1{31,}/gu, (run, character: string) => `${character}{×${[...run].length}}`);
  return text.length <= MAX_COUNTEREXAMPLE_LENGTH
    ? text
    : `${text.slice(0, MAX_COUNTEREXAMPLE_LENGTH)}… (${text.length} characters)`;
}

/**
 * Checks `runs` inputs, counting every violation, then shrinks the first
 * violating input of each property. `progress` is told every `every` inputs.
 */
export async function fuzz<Input>(
  api: string,
  target: StartedTarget<Input>,
  options: {
    runs: number;
    seed: number;
    progress?: (done: number) => void;
    every?: number;
    /** Told the first time each property is broken. */
    found?: (property: string, detail: string) => void;
  },
): Promise<FuzzReport> {
  await warmUp(target);
  const started = performance.now();
  const every = options.every ?? 10_000;
  const firstByProperty = new Map<string, { index: number; detail: string; inputs: number }>();
  let index = 0;
  let violatingInputs = 0;
  await fc.check(
    fc.asyncProperty(target.arbitrary, async (input) => {
      const violations = await confirmedViolations(target, input);
      if (violations.length > 0) violatingInputs += 1;
      for (const property of new Set(violations.map((each) => each.property))) {
        const first = firstByProperty.get(property);
        if (first) first.inputs += 1;
        else {
          const detail = violations.find((each) => each.property === property)?.detail ?? "";
          firstByProperty.set(property, { index, detail, inputs: 1 });
          options.found?.(property, detail);
        }
      }
      index += 1;
      if (index % every === 0) options.progress?.(index);
      // Never false: every input is checked, none stops the run.
      return true;
    }),
    { numRuns: options.runs, seed: options.seed },
  );

  const properties: PropertyReport[] = [];
  for (const [property, first] of firstByProperty) {
    properties.push({
      property,
      inputs: first.inputs,
      detail: first.detail,
      ...(await shrink(target, property, options.seed, first.index)),
    });
  }
  return {
    api,
    seed: options.seed,
    inputs: index,
    violatingInputs,
    properties,
    durationMs: Math.round(performance.now() - started),
    stats: target.stats?.() ?? {},
  };
}

/** Replays the input at `index` and shrinks it while it still breaks `property`. */
async function shrink<Input>(
  target: StartedTarget<Input>,
  property: string,
  seed: number,
  index: number,
): Promise<{ shrunkDetail: string | null; counterexample: string; path: string }> {
  let lastDetail: string | null = null;
  const details = await fc.check(
    fc.asyncProperty(target.arbitrary, async (input) => {
      const violation = (await confirmedViolations(target, input)).find(
        (each) => each.property === property,
      );
      if (violation) lastDetail = violation.detail;
      return violation === undefined;
    }),
    // Each shrinking step is a real request: bounded in time, the smallest found by then.
    { seed, path: String(index), numRuns: 1, interruptAfterTimeLimit: SHRINK_TIME_LIMIT_MS },
  );
  if (details.failed && details.counterexample) {
    return {
      shrunkDetail: lastDetail,
      counterexample: renderInput(details.counterexample[0]),
      path: details.counterexamplePath ?? String(index),
    };
  }
  // It did not break the property a second time (state-dependent): the input as first seen.
  const [input] = fc.sample(target.arbitrary, { seed, path: String(index), numRuns: 1 });
  return { shrunkDetail: null, counterexample: renderInput(input), path: String(index) };
}
