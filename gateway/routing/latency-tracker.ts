// What the lowest-latency policy and `provider.sort` read: per vendor-model,
// exponentially weighted moving averages of an answer's latency, its time to
// first token, and its output tokens per second, fed by every completed
// attempt. Milliseconds are measured, not money: plain numbers are fine here.
export class LatencyTracker {
  /** EWMA of a whole attempt's milliseconds; null until one completed. */
  latencyMs: number | null = null;
  /** EWMA of time to first token (streams; a whole answer's is its latency). */
  ttftMs: number | null = null;
  /** EWMA of output tokens per second after the first token; null until measurable. */
  tokensPerSecond: number | null = null;

  /** `alpha` in (0, 1]: the weight of the newest observation. */
  constructor(private readonly alpha: number) {}

  observe(latencyMs: number, ttftMs: number | null, outputTokens: number): void {
    this.latencyMs = this.blend(this.latencyMs, latencyMs);
    this.ttftMs = this.blend(this.ttftMs, ttftMs ?? latencyMs);
    const generatingMs = ttftMs === null ? latencyMs : latencyMs - ttftMs;
    if (outputTokens > 0 && generatingMs > 0) {
      this.tokensPerSecond = this.blend(this.tokensPerSecond, (outputTokens * 1000) / generatingMs);
    }
  }

  private blend(average: number | null, sample: number): number {
    return average === null ? sample : average + this.alpha * (sample - average);
  }
}

/** A measurement as a decimal string for events (never an exponent): 3 places. */
export function formatMeasure(value: number): string {
  return Math.max(0, value).toFixed(3);
}
