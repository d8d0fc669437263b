import { pino } from "pino";
import { Counter, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { startMetricsServer } from "./metrics-server.ts";

describe("the ingest role's metrics listener", () => {
  it("answers GET /metrics in the Prometheus text format, and nothing else", async () => {
    const registry = new Registry();
    new Counter({
      name: "switchboard_test_total",
      help: "a test counter",
      registers: [registry],
    }).inc(3);
    const server = await startMetricsServer(registry, "127.0.0.1", 0, pino({ level: "silent" }));
    try {
      const metrics = await fetch(`${server.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get("content-type")).toBe(registry.contentType);
      expect(await metrics.text()).toMatch(/^switchboard_test_total 3$/m);
      expect((await fetch(`${server.url}/`)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
