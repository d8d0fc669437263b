// "The process stays responsive": while a case runs, GET /healthz is asked
// again and again on the same app, and each answer's delay is measured from
// when it was due to be asked (a probe whose timer fired late waited on a
// blocked event loop as surely as one whose answer came late).
import type { FastifyInstance } from "fastify";
import type { Violation } from "./runner.ts";

/** The longest a /healthz may take while a case runs. */
export const HEALTHZ_DEADLINE_MS = 100;

/** How often /healthz is asked during a case. */
const PROBE_INTERVAL_MS = 10;

export class HealthProbe {
  private worstMs = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(private readonly app: FastifyInstance) {}

  /** Asks /healthz now and every PROBE_INTERVAL_MS until `stop`. */
  start(): void {
    this.probe(performance.now());
  }

  /** The slowest /healthz seen, and a violation when it was over the deadline or not 200. */
  async stop(): Promise<Violation[]> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
    const violations: Violation[] = [];
    if (this.worstMs > HEALTHZ_DEADLINE_MS) {
      violations.push({
        property: "healthz_within_100ms",
        detail: `a concurrent GET /healthz answered after ${Math.round(this.worstMs)} ms`,
        confirm: true,
      });
    }
    if (this.failures > 0) {
      violations.push({
        property: "healthz_within_100ms",
        detail: `${this.failures} concurrent GET /healthz did not answer 200`,
      });
    }
    return violations;
  }

  private probe(dueAt: number): void {
    this.inFlight = this.app.inject({ method: "GET", url: "/healthz" }).then(
      (response) => {
        if (response.statusCode !== 200) this.failures += 1;
        this.worstMs = Math.max(this.worstMs, performance.now() - dueAt);
        this.next();
      },
      () => {
        this.failures += 1;
        this.next();
      },
    );
  }

  private next(): void {
    if (this.stopped) return;
    const dueAt = performance.now() + PROBE_INTERVAL_MS;
    this.timer = setTimeout(() => this.probe(dueAt), PROBE_INTERVAL_MS);
  }
}

/** Runs `work` with /healthz probed beside it; its result and the probe's violations. */
export async function whileProbed<T>(
  app: FastifyInstance,
  work: () => Promise<T>,
): Promise<{ result: T; violations: Violation[] }> {
  const probe = new HealthProbe(app);
  probe.start();
  try {
    const result = await work();
    return { result, violations: await probe.stop() };
  } catch (error) {
    await probe.stop();
    throw error;
  }
}
