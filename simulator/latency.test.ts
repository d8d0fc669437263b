// The latency profile as a benchmark relies on it: draws that match the configured median and
// p95, and answers that take that long on the wire.
import { ServerResponse } from "node:http";
import { request } from "undici";
import { afterAll, describe, expect, it, vi } from "vitest";
import { type RunningSimulator, startSimulator } from "./index.ts";
import { latencySampler } from "./latency.ts";
import { seededRandom } from "./seeded-random.ts";

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.floor(fraction * (sorted.length - 1))] as number;
}

describe("the first-byte draw", () => {
  it("has the profile's median and p95", () => {
    const sampler = latencySampler(
      { firstByteMs: { median: 200, p95: 800 }, interTokenMs: 0 },
      seededRandom(1),
    );
    const draws = Array.from({ length: 20_000 }, () => sampler.firstByteMs()).sort((a, b) => a - b);
    expect(percentile(draws, 0.5)).toBeGreaterThan(190);
    expect(percentile(draws, 0.5)).toBeLessThan(210);
    expect(percentile(draws, 0.95)).toBeGreaterThan(740);
    expect(percentile(draws, 0.95)).toBeLessThan(860);
  });

  it("is always zero for the instant profile", () => {
    const sampler = latencySampler(
      { firstByteMs: { median: 0, p95: 0 }, interTokenMs: 0 },
      seededRandom(1),
    );
    expect(new Set(Array.from({ length: 100 }, () => sampler.firstByteMs()))).toEqual(new Set([0]));
  });
});

describe("answers on the wire", () => {
  const running: RunningSimulator[] = [];
  afterAll(() => Promise.all(running.map((simulator) => simulator.close())));

  async function slowSimulator() {
    const simulator = await startSimulator({
      models: [{ id: "sim-slow" }],
      // p95 = median: every first byte takes exactly 150 ms.
      latency: { firstByteMs: { median: 150, p95: 150 }, interTokenMs: 20 },
    });
    running.push(simulator);
    return simulator;
  }

  function ask(simulator: RunningSimulator, body: object, signal?: AbortSignal) {
    return request(`${simulator.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer k", "content-type": "application/json" },
      body: JSON.stringify({
        model: "sim-slow",
        messages: [{ role: "user", content: "How slow are you?" }],
        ...body,
      }),
      signal,
    });
  }

  it("streams the first token after the first-byte time, then one token per inter-token gap", async () => {
    const simulator = await slowSimulator();
    const started = performance.now();
    const response = await ask(simulator, { stream: true, max_tokens: 6 });
    const arrivals: number[] = [];
    for await (const chunk of response.body) {
      const frames = String(chunk).match(/"content":"[^"]+"/g) ?? [];
      for (const _frame of frames) arrivals.push(performance.now() - started);
    }

    expect(arrivals).toHaveLength(6);
    expect(arrivals[0]).toBeGreaterThanOrEqual(145);
    // Five gaps of 20 ms after the first token; timers never fire early. Measured from the
    // request, not from the first arrival: under load the first token can reach the client
    // late, which shortens the gaps seen after it without the server sending early.
    expect(arrivals[5] as number).toBeGreaterThanOrEqual(145 + 95);
  });

  it("answers a whole request when its stream would have finished", async () => {
    const simulator = await slowSimulator();
    const started = performance.now();
    const response = await ask(simulator, { max_tokens: 6 });
    await response.body.json();
    expect(performance.now() - started).toBeGreaterThanOrEqual(145 + 95);
  });

  it("stops writing a stream when the client goes away", async () => {
    const simulator = await slowSimulator();
    // The simulator runs in this process, so its writes can be counted.
    const writes = vi.spyOn(ServerResponse.prototype, "write");
    const abort = new AbortController();
    const response = await ask(simulator, { stream: true }, abort.signal);
    for await (const chunk of response.body) {
      if (String(chunk).includes('"content":"')) break;
    }
    abort.abort();

    await new Promise((resolve) => setTimeout(resolve, 50));
    const writesOnceGone = writes.mock.calls.length;
    // Ten more inter-token gaps: a stream still running would write ten more tokens.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(writes.mock.calls.length).toBe(writesOnceGone);
    writes.mockRestore();
  });
});
