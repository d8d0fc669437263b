// Service-level targets from config (analytics.slo), read by the vendor
// brief: per vendor, per model and/or task, a config default, the built-in
// defaults, and a brief's query parameters over the vendor's own. Figures by
// hand from test/fixtures/hand-ledger.ts, tenant acme: alpha served code
// three times (r1 and r2 succeeded, r3 failed; ttft 50, 80, none); beta
// served code once (r4, ttft 20) and general once (r5, no ttft), both
// succeeded.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../cli/config.ts";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { HAND_LEDGER_WINDOW, handLedger } from "../test/fixtures/hand-ledger.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { buildAnalytics } from "./app.ts";
import { resolveObjectives, type SloConfig, sloConfig } from "./slo.ts";

const SLO_YAML = `
default:
  error_rate: 0.5
targets:
  - { vendor: alpha, availability: 0.95, ttft_p95_ms: 100 }
  - { vendor: alpha, task: code, availability: 0.6 }
  - { vendor: beta, model: m2, task: general, ttft_p95_ms: 10 }
`;

const SLO: SloConfig = sloConfig.parse(parseYaml(SLO_YAML));

let clickhouse: TestClickHouse;
let app: FastifyInstance;

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, handLedger());
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    slo: SLO,
  });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

async function slo(vendor: string, query = "") {
  const response = await app.inject(
    `/v1/vendors/${vendor}/brief?${HAND_LEDGER_WINDOW}&tenant=acme${query}`,
  );
  expect(response.statusCode, response.body).toBe(200);
  return response.json().slo;
}

describe("SLO targets from config", () => {
  it("are read from analytics.slo in the config file, and a duplicate scope is refused", () => {
    const directory = mkdtempSync(join(tmpdir(), "slo-config-"));
    const write = (name: string, slo: string) => {
      const path = join(directory, name);
      writeFileSync(
        path,
        [
          "gateway:",
          "  price_catalog: prices.yaml",
          `  api_keys: [{ id: k, tenant: t, sha256: ${"a".repeat(64)} }]`,
          "  vendors: []",
          "  routes: []",
          "analytics:",
          "  slo:",
          ...slo
            .trim()
            .split("\n")
            .map((line) => `    ${line}`),
        ].join("\n"),
      );
      return path;
    };
    expect(loadConfig(write("good.yaml", SLO_YAML), {}).analytics.slo).toEqual(SLO);
    expect(() =>
      loadConfig(
        write(
          "twice.yaml",
          "targets: [{ vendor: alpha, task: code }, { vendor: alpha, task: code, error_rate: 0.1 }]",
        ),
        {},
      ),
    ).toThrow(/analytics\.slo\.targets\.1: a target for this vendor, model and task/);
    expect(() => loadConfig(write("rate.yaml", "default: { availability: 1.5 }"), {})).toThrow(
      /analytics\.slo\.default\.availability/,
    );
    // The demo config has none: every target is built in.
    expect(loadConfig("config/switchboard.yaml", {}).analytics.slo.targets).toBeInstanceOf(Array);
  });

  it("resolve each objective from the narrowest target that sets it", () => {
    expect(resolveObjectives(SLO, "alpha", { model: null, task: "code" }, {})).toEqual({
      availability: { target: 0.6, source: "config:task" },
      ttft_p95_ms: { target: 100, source: "config:vendor" },
      error_rate: { target: 0.5, source: "config:default" },
    });
    expect(resolveObjectives(SLO, "gamma", null, { ttft_p95_ms: 300 })).toEqual({
      availability: { target: 0.99, source: "built-in" },
      ttft_p95_ms: { target: 300, source: "query" },
      error_rate: { target: 0.5, source: "config:default" },
    });
  });

  it("measure alpha against its own targets, and its code task against the task's", async () => {
    const result = await slo("alpha");
    const vendorWide = { model: null, task: null };
    const codeTask = { model: null, task: "code" };
    expect(result).toEqual([
      {
        objective: "availability",
        ...vendorWide,
        target: 0.95,
        target_source: "config:vendor",
        observed: 2 / 3,
        met: false,
      },
      {
        objective: "ttft_ms_p95",
        ...vendorWide,
        target: 100,
        target_source: "config:vendor",
        // A t-digest of 50 and 80: between them.
        observed: expect.any(Number),
        met: true,
      },
      {
        // r3 failed: 1 of 3 attempts.
        objective: "error_rate",
        ...vendorWide,
        target: 0.5,
        target_source: "config:default",
        observed: 1 / 3,
        met: true,
      },
      {
        objective: "availability",
        ...codeTask,
        target: 0.6,
        target_source: "config:task",
        observed: 2 / 3,
        met: true,
      },
      {
        objective: "ttft_ms_p95",
        ...codeTask,
        target: 100,
        target_source: "config:vendor",
        observed: expect.any(Number),
        met: true,
      },
      {
        objective: "error_rate",
        ...codeTask,
        target: 0.5,
        target_source: "config:default",
        observed: 1 / 3,
        met: true,
      },
    ]);
    expect(result[1].observed).toBeGreaterThanOrEqual(50);
    expect(result[1].observed).toBeLessThanOrEqual(80);
  });

  it("let a brief's query parameter override the vendor's target but not a task's", async () => {
    const result = await slo("alpha", "&slo_availability=0.5");
    expect(
      result.filter((entry: { objective: string }) => entry.objective === "availability"),
    ).toEqual([
      expect.objectContaining({ task: null, target: 0.5, target_source: "query", met: true }),
      expect.objectContaining({ task: "code", target: 0.6, target_source: "config:task" }),
    ]);
  });

  it("say 'no data' for an objective a scope has no observation of", async () => {
    const result = await slo("beta");
    expect(result).toEqual([
      expect.objectContaining({
        objective: "availability",
        model: null,
        target: 0.99,
        target_source: "built-in",
        observed: 1,
        met: true,
      }),
      expect.objectContaining({
        objective: "ttft_ms_p95",
        model: null,
        target: 2000,
        target_source: "built-in",
        observed: 20,
        met: true,
      }),
      expect.objectContaining({ objective: "error_rate", model: null, observed: 0, met: true }),
      expect.objectContaining({
        objective: "availability",
        model: "m2",
        task: "general",
        observed: 1,
      }),
      {
        // r5 had no time to first token.
        objective: "ttft_ms_p95",
        model: "m2",
        task: "general",
        target: 10,
        target_source: "config:model+task",
        observed: null,
        met: null,
      },
      expect.objectContaining({ objective: "error_rate", model: "m2", observed: 0, met: true }),
    ]);
    const markdown = (
      await app.inject(`/v1/vendors/beta/brief?${HAND_LEDGER_WINDOW}&tenant=acme&format=md`)
    ).body;
    expect(markdown).toContain(
      "| model m2, task general | ttft_ms_p95 | 10 | config:model+task | — | no data |",
    );
  });
});
