// The candidate loop shared by chat and embeddings: try the decision's
// candidates in order; after a retryable failure retry the same candidate
// (after a backoff, retry-after honoured), move to the next, or give up
// (routing/retry-policy.ts). Each failed attempt publishes attempt_failed
// with what happens next; each outcome feeds the candidate's circuit
// breaker, and each answer its latency averages. Each attempt is counted
// (TrafficMetrics) and, when tracing is on, is a span of its own.
import type { CallContext } from "./chat-dispatch.ts";
import type { AttemptFailure } from "./failures.ts";
import type { NextStep } from "./routing/retry-policy.ts";
import { nextStep } from "./routing/retry-policy.ts";
import type { Candidate } from "./routing/route-table.ts";
import type { Router } from "./routing.ts";

export type AttemptResult =
  /** The client has its answer. `ttftMs` counts from the request's start. */
  | { outcome: "answered"; ttftMs: number | null; outputTokens: number }
  /** The vendor refused the client's request itself; that answer was sent. */
  | { outcome: "refused" }
  /** A retryable failure; nothing reached the client. */
  | { outcome: "failed"; failure: AttemptFailure }
  /**
   * Failed after the client had the start of the answer; the stream's error
   * frame was sent. `complete` publishes the completion, after attempt_failed.
   */
  | { outcome: "broken"; failure: AttemptFailure; complete: () => void }
  /** The client left. */
  | { outcome: "abandoned" };

export interface Exhausted {
  failures: AttemptFailure[];
  lastTarget: Candidate | null;
}

const GIVE_UP: NextStep = { action: "give_up", backoffMs: null };

/** Null when the request was answered (one way or another); else what every attempt met. */
export async function runAttempts(
  call: CallContext,
  router: Router,
  attempt: (candidate: Candidate, attemptStartedAt: number) => Promise<AttemptResult>,
): Promise<Exhausted | null> {
  const candidates = call.decision.attempts;
  const failures: AttemptFailure[] = [];
  let lastTarget: Candidate | null = null;
  let index = 0;
  let retries = 0;
  while (index < candidates.length) {
    const candidate = candidates[index] as Candidate;
    lastTarget = candidate;
    const { breaker, latency } = candidate.health;
    breaker.attemptStarted();
    const requestOffsetMs = call.ledger.elapsedMs();
    const attemptStartedAt = call.ledger.attemptStarted(candidate);
    call.trace?.attemptStarted(candidate, call.ledger.attemptCount);
    let result: AttemptResult;
    try {
      result = await attempt(candidate, attemptStartedAt);
    } catch (error) {
      // The gateway's own failure (completingOnce records the request): the attempt still ends.
      call.traffic.attemptEnded(candidate, call.task, "gateway_error");
      call.trace?.attemptEnded({ outcome: "gateway_error" });
      throw error;
    }
    switch (result.outcome) {
      case "answered": {
        breaker.recordSuccess();
        const ttftMs = result.ttftMs === null ? null : Math.max(0, result.ttftMs - requestOffsetMs);
        latency.observe(performance.now() - attemptStartedAt, ttftMs, result.outputTokens);
        call.traffic.attemptEnded(candidate, call.task, "success");
        call.trace?.attemptEnded({
          outcome: "success",
          // Whole answers have none (ttftMs null): only a stream has a first chunk.
          timeToFirstChunkSeconds: ttftMs === null ? null : ttftMs / 1000,
        });
        return null;
      }
      case "refused":
        breaker.recordSuccess();
        call.traffic.attemptEnded(candidate, call.task, "client_error");
        call.trace?.attemptEnded({ outcome: "client_error" });
        return null;
      case "abandoned":
        breaker.attemptAbandoned();
        call.traffic.attemptEnded(candidate, call.task, "client_closed");
        call.trace?.attemptEnded({ outcome: "client_closed" });
        return null;
      case "broken":
        breaker.recordFailure();
        call.ledger.attemptFailed(candidate, result.failure, attemptStartedAt, GIVE_UP);
        result.complete();
        call.traffic.attemptEnded(candidate, call.task, result.failure.errorClass);
        call.trace?.attemptEnded({
          outcome: result.failure.errorClass,
          errorCode: result.failure.code,
        });
        return null;
      case "failed":
        break;
    }
    const failure = result.failure;
    call.traffic.attemptEnded(candidate, call.task, failure.errorClass);
    call.trace?.attemptEnded({ outcome: failure.errorClass, errorCode: failure.code });
    failures.push(failure);
    // A client that left says nothing of the vendor's health.
    if (failure.errorClass === "client_closed") breaker.attemptAbandoned();
    else breaker.recordFailure();
    const step = call.clientGone.aborted
      ? GIVE_UP
      : nextStep(
          router.retry,
          failure,
          {
            attempts: call.ledger.attemptCount,
            retriesOfCandidate: retries,
            elapsedMs: call.ledger.elapsedMs(),
            moreCandidates: index + 1 < candidates.length,
            candidateAvailable: breaker.allowsAttempt(),
          },
          router.random,
        );
    call.ledger.attemptFailed(candidate, failure, attemptStartedAt, step);
    if (step.action === "next_candidate") {
      call.traffic.failedOver(candidate, call.task, failure.errorClass);
    }
    if (step.action === "give_up") break;
    if (step.action === "retry") {
      retries += 1;
      if (step.backoffMs) await router.sleep(step.backoffMs, call.clientGone);
      if (call.clientGone.aborted) break;
    } else {
      index += 1;
      retries = 0;
    }
  }
  return { failures, lastTarget };
}
