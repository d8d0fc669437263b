// What happens after a retryable failure: retry the same candidate after a
// wait, move on to the next candidate at once, or give up. The wait is the
// vendor's `retry-after` when it sent one (and it is not too long), else
// exponential backoff with full jitter: a uniform draw in
// [0, min(max_backoff_ms, base_backoff_ms × 2^retries)). Pure: the random
// draw is injected, so tests can pin it.
import type { AttemptFailure } from "../failures.ts";

export interface RetrySettings {
  maxRetriesPerCandidate: number;
  /** Attempts of one request, every candidate together. */
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** A longer `retry-after` moves to the next candidate instead of waiting. */
  maxRetryAfterMs: number;
  /** No retry and no new candidate once a request has run this long. */
  totalBudgetMs: number;
}

export type NextAction = "retry" | "next_candidate" | "give_up";

export interface RetryContext {
  /** Attempts made so far, the failed one included. */
  attempts: number;
  /** Retries already made of the failed candidate (0 after its first attempt). */
  retriesOfCandidate: number;
  /** Milliseconds since the request arrived. */
  elapsedMs: number;
  /** Whether an untried candidate remains. */
  moreCandidates: boolean;
  /** Whether the failed candidate's breaker still lets attempts through. */
  candidateAvailable: boolean;
}

export interface NextStep {
  action: NextAction;
  /** The wait before the next attempt; null when the next attempt is not waited for. */
  backoffMs: number | null;
}

export function nextStep(
  settings: RetrySettings,
  failure: Pick<AttemptFailure, "retryAfterSeconds">,
  context: RetryContext,
  random: () => number,
): NextStep {
  const outOfBudget =
    context.attempts >= settings.maxAttempts || context.elapsedMs >= settings.totalBudgetMs;
  if (outOfBudget) return GIVE_UP;
  if (context.retriesOfCandidate < settings.maxRetriesPerCandidate && context.candidateAvailable) {
    const backoffMs = backoffFor(settings, failure, context.retriesOfCandidate, random);
    if (backoffMs !== null && context.elapsedMs + backoffMs < settings.totalBudgetMs) {
      return { action: "retry", backoffMs };
    }
  }
  return context.moreCandidates ? NEXT_CANDIDATE : GIVE_UP;
}

/** The wait before retry number `retries + 1`; null when the vendor asked for longer than allowed. */
export function backoffFor(
  settings: RetrySettings,
  failure: Pick<AttemptFailure, "retryAfterSeconds">,
  retries: number,
  random: () => number,
): number | null {
  const retryAfter = failure.retryAfterSeconds;
  if (retryAfter !== null && retryAfter !== undefined) {
    const retryAfterMs = Math.ceil(retryAfter * 1000);
    return retryAfterMs <= settings.maxRetryAfterMs ? retryAfterMs : null;
  }
  const ceiling = Math.min(settings.maxBackoffMs, settings.baseBackoffMs * 2 ** retries);
  return Math.floor(random() * ceiling);
}

const GIVE_UP: NextStep = { action: "give_up", backoffMs: null };
const NEXT_CANDIDATE: NextStep = { action: "next_candidate", backoffMs: null };
