// One circuit breaker per vendor-model. Closed, it counts outcomes; it opens
// after `consecutive_failures` failures in a row, or when at least
// `min_requests` attempts in the last `window_ms` failed at `error_rate` or
// more. Open, the candidate is skipped ("circuit_open") for `cool_down_ms`;
// then it is half-open: up to `half_open_probes` attempts at a time go
// through, and the first outcome closes it again (success) or reopens it
// (failure). Time is read from an injected clock, so tests drive it.
export interface CircuitBreakerSettings {
  enabled: boolean;
  consecutiveFailures: number;
  /** Failures per million attempts at which the window opens the breaker (500000 = 50%). */
  errorRatePerMillion: number;
  windowMs: number;
  minRequests: number;
  coolDownMs: number;
  halfOpenProbes: number;
}

export type CircuitState = "closed" | "open" | "half_open";

// The window is kept as a ring of buckets, so counting costs no allocation.
const BUCKETS = 10;

export class CircuitBreaker {
  private current: CircuitState = "closed";
  private consecutive = 0;
  private openedAt = 0;
  private probesInFlight = 0;
  private readonly bucketMs: number;
  private readonly bucketEpoch = new Float64Array(BUCKETS).fill(-1);
  private readonly bucketSuccesses = new Uint32Array(BUCKETS);
  private readonly bucketFailures = new Uint32Array(BUCKETS);

  constructor(
    private readonly settings: CircuitBreakerSettings,
    private readonly now: () => number,
  ) {
    this.bucketMs = Math.max(1, Math.ceil(settings.windowMs / BUCKETS));
  }

  /** The state now; an open breaker whose cool-down has passed is half-open. */
  state(): CircuitState {
    if (this.current === "open" && this.now() - this.openedAt >= this.settings.coolDownMs) {
      this.current = "half_open";
      this.probesInFlight = 0;
    }
    return this.current;
  }

  /** Whether a new attempt may go to this candidate now. */
  allowsAttempt(): boolean {
    if (!this.settings.enabled) return true;
    const state = this.state();
    if (state === "closed") return true;
    if (state === "open") return false;
    return this.probesInFlight < this.settings.halfOpenProbes;
  }

  /** Milliseconds until an open breaker lets a probe through; 0 when it is not open. */
  reopensInMs(): number {
    if (this.state() !== "open") return 0;
    return Math.max(0, this.openedAt + this.settings.coolDownMs - this.now());
  }

  attemptStarted(): void {
    if (this.settings.enabled && this.state() === "half_open") this.probesInFlight += 1;
  }

  recordSuccess(): void {
    if (!this.settings.enabled) return;
    this.consecutive = 0;
    if (this.state() === "half_open") {
      this.close();
      return;
    }
    const index = this.bucketIndex();
    this.bucketSuccesses[index] = (this.bucketSuccesses[index] as number) + 1;
  }

  recordFailure(): void {
    if (!this.settings.enabled) return;
    const state = this.state();
    if (state === "half_open") {
      this.open();
      return;
    }
    if (state === "open") return;
    this.consecutive += 1;
    const index = this.bucketIndex();
    this.bucketFailures[index] = (this.bucketFailures[index] as number) + 1;
    if (this.consecutive >= this.settings.consecutiveFailures || this.windowTrips()) this.open();
  }

  /** An attempt that ended with no verdict on the vendor (the client left). */
  attemptAbandoned(): void {
    if (this.probesInFlight > 0) this.probesInFlight -= 1;
  }

  private open(): void {
    this.current = "open";
    this.openedAt = this.now();
    this.probesInFlight = 0;
  }

  private close(): void {
    this.current = "closed";
    this.consecutive = 0;
    this.probesInFlight = 0;
    this.bucketEpoch.fill(-1);
    this.bucketSuccesses.fill(0);
    this.bucketFailures.fill(0);
  }

  private windowTrips(): boolean {
    const oldest = Math.floor(this.now() / this.bucketMs) - BUCKETS + 1;
    let failures = 0;
    let total = 0;
    for (let index = 0; index < BUCKETS; index += 1) {
      if ((this.bucketEpoch[index] as number) < oldest) continue;
      failures += this.bucketFailures[index] as number;
      total += (this.bucketFailures[index] as number) + (this.bucketSuccesses[index] as number);
    }
    // Integers only: failures / total >= rate, as failures × 10^6 >= rate × total.
    return (
      total >= this.settings.minRequests &&
      failures * 1_000_000 >= this.settings.errorRatePerMillion * total
    );
  }

  /** The bucket of this moment, emptied first if it last held an older slice of time. */
  private bucketIndex(): number {
    const epoch = Math.floor(this.now() / this.bucketMs);
    const index = epoch % BUCKETS;
    if (this.bucketEpoch[index] !== epoch) {
      this.bucketEpoch[index] = epoch;
      this.bucketSuccesses[index] = 0;
      this.bucketFailures[index] = 0;
    }
    return index;
  }
}
