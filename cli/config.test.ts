import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { sha256Hex } from "../gateway/auth.ts";
import { PriceCatalog } from "../gateway/pricing.ts";
import { Router } from "../gateway/routing.ts";
import { loadConfig } from "./config.ts";
import { DEMO_API_KEYS } from "./demo.ts";

const ROLES = ["all", "gateway", "ingest", "analytics", "simulator", "migrate", "replay"];

describe("configuration", () => {
  it("the default config loads, with the demo keys and no vendor (the simulator stands in)", () => {
    const config = loadConfig("config/switchboard.yaml", {});
    expect(config.gateway.port).toBe(8080);
    expect(config.analytics.port).toBe(8081);
    expect(config.gateway.vendors).toEqual([]);
    expect(
      config.gateway.api_keys.map(({ id, tenant, team, tags }) => [id, tenant, team, tags]),
    ).toEqual([
      ["demo", "demo", undefined, []],
      ["demo-search", "demo", "search", ["prod", "search"]],
    ]);
    for (const [index, key] of DEMO_API_KEYS.entries())
      expect(config.gateway.api_keys[index]?.sha256).toBe(sha256Hex(key));
    expect(PriceCatalog.load(config.gateway.price_catalog).version).toBe("demo-2026-11-01");
  });

  it("environment variables override addresses", () => {
    const config = loadConfig("config/switchboard.yaml", {
      GATEWAY_PORT: "9999",
      CLICKHOUSE_URL: "http://clickhouse:8123",
      KAFKA_BROKERS: "127.0.0.1:9092",
    });
    expect(config.gateway.port).toBe(9999);
    expect(config.clickhouse_url).toBe("http://clickhouse:8123");
    expect(config.kafka_brokers).toBe("127.0.0.1:9092");
  });

  it("the compose config routes only to priced vendor-models", () => {
    const config = loadConfig("config/compose.yaml", {});
    expect(
      () => new Router(config.gateway, PriceCatalog.load(config.gateway.price_catalog)),
    ).not.toThrow();
  });

  it("every docker-compose role is a CLI role", () => {
    const compose = parseYaml(readFileSync("docker-compose.yml", "utf8")) as {
      services: Record<string, { command?: string[] }>;
    };
    const commands = Object.values(compose.services).flatMap((service) => service.command ?? []);
    expect(commands.length).toBeGreaterThan(0);
    for (const command of commands) expect(ROLES).toContain(command);
  });

  it("ingest batching, its metrics listener and the gateway's outbox have defaults and are validated", () => {
    const config = loadConfig("config/switchboard.yaml", { INGEST_METRICS_PORT: "9999" });
    expect(config.ingest).toEqual({
      max_batch_events: 20_000,
      max_batch_bytes: 16 * 1024 * 1024,
      max_batch_wait_ms: 500,
      metrics_host: "127.0.0.1",
      metrics_port: 9999,
    });
    expect(config.outbox).toEqual({
      max_bytes: 1024 * 1024 * 1024,
      memory_events: 100_000,
      send_timeout_ms: 5_000,
    });
    const directory = mkdtempSync(join(tmpdir(), "config-"));
    const path = join(directory, "bad-batching.yaml");
    writeFileSync(
      path,
      [
        readFileSync("config/switchboard.yaml", "utf8"),
        "ingest: { max_batch_events: 0 }",
        "outbox: { memory_events: 10 }",
      ].join("\n"),
    );
    writeFileSync(join(directory, "prices.yaml"), readFileSync("config/prices.yaml", "utf8"));
    expect(() => loadConfig(path, {})).toThrow(/ingest\.max_batch_events: /);
    expect(() => loadConfig(path, {})).toThrow(/outbox\.memory_events: /);
  });

  it("a bad config stops start-up naming the field", () => {
    const directory = mkdtempSync(join(tmpdir(), "config-"));
    const path = join(directory, "bad.yaml");
    writeFileSync(
      path,
      [
        "gateway:",
        "  price_catalog: prices.yaml",
        "  api_keys: [{ id: k, tenant: t, sha256: nothex }]",
        "  vendors: [{ id: a, protocol: openai, base_url: 'http://127.0.0.1:1/v1' }]",
        "  routes: [{ model: fast, fallback: [{ vendor: nobody, model: m }] }]",
      ].join("\n"),
    );
    expect(() => loadConfig(path, {})).toThrow(/gateway\.api_keys\.0\.sha256: hex SHA-256/);
    expect(() => loadConfig(path, {})).toThrow(
      /gateway\.routes\.0\.fallback\.0\.vendor: unknown vendor "nobody"/,
    );
  });
});
