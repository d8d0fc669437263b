import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { buildAnalytics } from "../../analytics/app.ts";
import { openEventLog } from "../../eventlog/index.ts";
import type { EventSink } from "../../eventlog/ports.ts";
import { buildGateway } from "../../gateway/app.ts";
import { sha256Hex } from "../../gateway/auth.ts";
import { type GatewayConfig, gatewayConfig } from "../../gateway/config.ts";
import { PriceCatalog } from "../../gateway/pricing.ts";
import { INGEST_TOPICS, runIngest } from "../../ingest/consumer.ts";
import { EventLoader } from "../../ingest/loader.ts";
import {
  type RunningSimulator,
  type ScriptedReply,
  startSimulator,
} from "../../simulator/index.ts";
import { freshClickHouse, type TestClickHouse } from "../fixtures/clickhouse.ts";

export const API_KEY = "sk-e2e-test";

/**
 * The whole product in this process on real parts: two simulated vendors, the
 * gateway on a real port, the event log (local segment log, or the real Kafka
 * broker), ingest into a fresh chDB database, and the analytics API.
 *
 * Routes are chosen so failovers are certain, not random:
 *   fast    → alpha/sim-small, then beta/sim-small   (alpha healthy: no failover)
 *   flaky   → alpha/sim-broken (always 500), then beta/sim-small
 *   limited → alpha/sim-limited (always 429), then beta/sim-large
 */
export interface Stack {
  gatewayUrl: string;
  analytics: FastifyInstance;
  clickhouse: TestClickHouse;
  /** Each run bills a tenant of its own, so a reused broker's old events never mix in. */
  tenant: string;
  sink: EventSink;
  eventLogKind: "kafka" | "local";
  /** Where the product keeps data on disk: the local event log (embedded mode) and chDB's folder. */
  dataDirectories: readonly string[];
  stop(): Promise<void>;
}

export async function startStack(options: {
  kafkaBrokers?: string;
  /** Chosen answers, given by both simulated vendors (simulator/completion.ts). */
  scripts?: readonly ScriptedReply[];
}): Promise<Stack> {
  const logger = pino({ level: "warn" });
  const tenant = `e2e-${randomUUID().slice(0, 8)}`;
  const scripts = [...(options.scripts ?? [])];
  const alpha = await startSimulator({
    models: [{ id: "sim-small" }, { id: "sim-broken" }, { id: "sim-limited" }],
    faultsByModel: { "sim-broken": { serverError: 1 }, "sim-limited": { rateLimited: 1 } },
    scripts,
  });
  const beta = await startSimulator({
    models: [{ id: "sim-small" }, { id: "sim-large" }],
    scripts,
  });
  const simulators: RunningSimulator[] = [alpha, beta];
  const vendor = (id: string, simulator: RunningSimulator) => ({
    id,
    protocol: "openai",
    base_url: `${simulator.url}/v1`,
    api_key: "simulator",
  });
  const config: GatewayConfig = gatewayConfig.parse({
    port: 0,
    price_catalog: "unused: the catalog is built below",
    api_keys: [{ id: "e2e", tenant, sha256: sha256Hex(API_KEY) }],
    vendors: [vendor("alpha", alpha), vendor("beta", beta)],
    routes: [
      {
        model: "fast",
        fallback: [
          { vendor: "alpha", model: "sim-small" },
          { vendor: "beta", model: "sim-small" },
        ],
      },
      {
        model: "flaky",
        fallback: [
          { vendor: "alpha", model: "sim-broken" },
          { vendor: "beta", model: "sim-small" },
        ],
      },
      {
        model: "limited",
        fallback: [
          { vendor: "alpha", model: "sim-limited" },
          { vendor: "beta", model: "sim-large" },
        ],
      },
    ],
  });
  const prices = new PriceCatalog({
    version: "e2e-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      { vendor: "alpha", model: "sim-small", input: "0.15", cached_input: "0.075", output: "0.60" },
      { vendor: "alpha", model: "sim-broken", input: "1", output: "2" },
      { vendor: "alpha", model: "sim-limited", input: "1", output: "2" },
      { vendor: "beta", model: "sim-small", input: "0.1", output: "0.4" },
      { vendor: "beta", model: "sim-large", input: "3.000001", output: "15.000000000007" },
    ],
  });

  const eventDirectory = mkdtempSync(join(tmpdir(), "switchboard-events-"));
  const eventLog = openEventLog({
    kafkaBrokers: options.kafkaBrokers,
    localDirectory: eventDirectory,
  });
  const sink = await eventLog.createSink();
  const gateway = buildGateway({ config, prices, sink, logger });
  const gatewayUrl = await gateway.listen({ host: "127.0.0.1", port: 0 });

  const clickhouse = await freshClickHouse();
  const deadLetterSink = await eventLog.createSink();
  const source = await eventLog.createSource(`e2e-ingest-${tenant}`, INGEST_TOPICS);
  const ingestion = runIngest(source, new EventLoader(clickhouse.client, deadLetterSink), logger);
  const analytics = buildAnalytics({ clickhouse: clickhouse.client, logger });

  return {
    gatewayUrl,
    analytics,
    clickhouse,
    tenant,
    sink,
    eventLogKind: eventLog.kind,
    dataDirectories: [eventDirectory, clickhouse.url.replace(/^chdb:/, "")],
    async stop() {
      await gateway.close();
      await sink.close();
      await source.close();
      await ingestion;
      await deadLetterSink.close();
      await analytics.close();
      await clickhouse.close();
      await Promise.all(simulators.map((simulator) => simulator.close()));
      rmSync(eventDirectory, { recursive: true, force: true });
    },
  };
}
