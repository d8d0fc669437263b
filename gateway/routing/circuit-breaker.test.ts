import { describe, expect, it } from "vitest";
import { CircuitBreaker, type CircuitBreakerSettings } from "./circuit-breaker.ts";

const SETTINGS: CircuitBreakerSettings = {
  enabled: true,
  consecutiveFailures: 3,
  errorRatePerMillion: 500_000,
  windowMs: 10_000,
  minRequests: 4,
  coolDownMs: 5_000,
  halfOpenProbes: 1,
};

function breaker(settings: Partial<CircuitBreakerSettings> = {}) {
  const clock = { now: 1_000_000 };
  return { clock, breaker: new CircuitBreaker({ ...SETTINGS, ...settings }, () => clock.now) };
}

describe("circuit breaker", () => {
  it("opens after N consecutive failures, and a success in between resets the count", () => {
    const { breaker: b } = breaker({ minRequests: 1000 });
    b.recordFailure();
    b.recordFailure();
    b.recordSuccess();
    b.recordFailure();
    b.recordFailure();
    expect(b.state()).toBe("closed");
    b.recordFailure();
    expect(b.state()).toBe("open");
    expect(b.allowsAttempt()).toBe(false);
  });

  it("opens on the error rate over the window once min_requests is reached", () => {
    const { breaker: b } = breaker({ consecutiveFailures: 100 });
    // fail, ok, fail: 2 of 3, under min_requests (4)
    b.recordFailure();
    b.recordSuccess();
    b.recordFailure();
    expect(b.state()).toBe("closed");
    b.recordSuccess(); // 2 of 4 = 50%, but the check runs on failures
    expect(b.state()).toBe("closed");
    b.recordFailure(); // 3 of 5 >= 50%
    expect(b.state()).toBe("open");
  });

  it("forgets outcomes older than the window", () => {
    const { breaker: b, clock } = breaker({ consecutiveFailures: 100 });
    b.recordFailure();
    b.recordFailure();
    b.recordFailure();
    clock.now += 11_000;
    b.recordSuccess();
    b.recordSuccess();
    b.recordSuccess();
    b.recordFailure(); // 1 of 4 in the window
    expect(b.state()).toBe("closed");
  });

  it("goes half-open after the cool-down, lets one probe through, and closes on its success", () => {
    const { breaker: b, clock } = breaker();
    for (let index = 0; index < 3; index += 1) b.recordFailure();
    expect(b.reopensInMs()).toBe(5_000);
    clock.now += 4_999;
    expect(b.allowsAttempt()).toBe(false);
    expect(b.reopensInMs()).toBe(1);
    clock.now += 1;
    expect(b.state()).toBe("half_open");
    expect(b.allowsAttempt()).toBe(true);
    b.attemptStarted();
    expect(b.allowsAttempt()).toBe(false); // the one probe is in flight
    b.recordSuccess();
    expect(b.state()).toBe("closed");
    expect(b.allowsAttempt()).toBe(true);
  });

  it("reopens when the half-open probe fails, for another full cool-down", () => {
    const { breaker: b, clock } = breaker();
    for (let index = 0; index < 3; index += 1) b.recordFailure();
    clock.now += 5_000;
    b.attemptStarted();
    b.recordFailure();
    expect(b.state()).toBe("open");
    clock.now += 4_999;
    expect(b.state()).toBe("open");
    clock.now += 1;
    expect(b.state()).toBe("half_open");
  });

  it("frees the probe slot of an abandoned attempt", () => {
    const { breaker: b, clock } = breaker();
    for (let index = 0; index < 3; index += 1) b.recordFailure();
    clock.now += 5_000;
    b.attemptStarted();
    expect(b.allowsAttempt()).toBe(false);
    b.attemptAbandoned();
    expect(b.allowsAttempt()).toBe(true);
  });

  it("never opens when disabled", () => {
    const { breaker: b } = breaker({ enabled: false });
    for (let index = 0; index < 10; index += 1) b.recordFailure();
    expect(b.allowsAttempt()).toBe(true);
  });
});
