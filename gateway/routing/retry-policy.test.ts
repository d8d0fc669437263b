import { describe, expect, it } from "vitest";
import { backoffFor, nextStep, type RetrySettings } from "./retry-policy.ts";

const SETTINGS: RetrySettings = {
  maxRetriesPerCandidate: 2,
  maxAttempts: 5,
  baseBackoffMs: 100,
  maxBackoffMs: 1_000,
  maxRetryAfterMs: 3_000,
  totalBudgetMs: 10_000,
};
const fixed = (value: number) => () => value;
const noRetryAfter = { retryAfterSeconds: null };
const context = {
  attempts: 1,
  retriesOfCandidate: 0,
  elapsedMs: 0,
  moreCandidates: true,
  candidateAvailable: true,
};

describe("backoff", () => {
  it.each([
    // retries so far, random draw, expected wait: uniform in [0, min(max, base × 2^retries))
    [0, 0, 0],
    [0, 0.5, 50],
    [0, 0.999, 99],
    [1, 0.5, 100],
    [2, 0.5, 200],
    [3, 0.5, 400],
    [4, 0.5, 500], // capped at max_backoff_ms 1000
    [9, 0.999, 999],
  ])("full jitter: after %i retries with draw %d waits %i ms", (retries, draw, expected) => {
    expect(backoffFor(SETTINGS, noRetryAfter, retries, fixed(draw))).toBe(expected);
  });

  it("honours retry-after exactly, whatever the draw", () => {
    expect(backoffFor(SETTINGS, { retryAfterSeconds: 2 }, 0, fixed(0.1))).toBe(2_000);
    expect(backoffFor(SETTINGS, { retryAfterSeconds: 0.25 }, 3, fixed(0.9))).toBe(250);
  });

  it("a retry-after longer than max_retry_after_ms is not waited for", () => {
    expect(backoffFor(SETTINGS, { retryAfterSeconds: 4 }, 0, fixed(0.5))).toBeNull();
  });
});

describe("next step after a retryable failure", () => {
  it.each([
    ["retries while the candidate has retries left", {}, noRetryAfter, "retry", 50],
    [
      "moves on when the candidate's retries are used",
      { retriesOfCandidate: 2 },
      noRetryAfter,
      "next_candidate",
      null,
    ],
    [
      "gives up when retries are used and no candidate is left",
      { retriesOfCandidate: 2, moreCandidates: false },
      noRetryAfter,
      "give_up",
      null,
    ],
    [
      "moves on when the breaker opened",
      { candidateAvailable: false },
      noRetryAfter,
      "next_candidate",
      null,
    ],
    ["waits out a retry-after", {}, { retryAfterSeconds: 1 }, "retry", 1_000],
    [
      "moves on rather than wait out a long retry-after",
      {},
      { retryAfterSeconds: 60 },
      "next_candidate",
      null,
    ],
    ["gives up at max_attempts", { attempts: 5 }, noRetryAfter, "give_up", null],
    ["gives up past the time budget", { elapsedMs: 10_000 }, noRetryAfter, "give_up", null],
    [
      "does not retry when the wait would pass the budget",
      { elapsedMs: 9_500 },
      { retryAfterSeconds: 1 },
      "next_candidate",
      null,
    ],
  ] as const)("%s", (_name, overrides, failure, action, backoffMs) => {
    expect(nextStep(SETTINGS, failure, { ...context, ...overrides }, fixed(0.5))).toEqual({
      action,
      backoffMs,
    });
  });

  it("never retries with max_retries_per_candidate 0", () => {
    const step = nextStep(
      { ...SETTINGS, maxRetriesPerCandidate: 0 },
      noRetryAfter,
      context,
      fixed(0.5),
    );
    expect(step).toEqual({ action: "next_candidate", backoffMs: null });
  });
});
