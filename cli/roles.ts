import { join } from "node:path";
import type { Logger } from "pino";
import { collectDefaultMetrics, Registry } from "prom-client";
import { buildAnalytics } from "../analytics/app.ts";
import { commitmentsOf } from "../analytics/commitments.ts";
import { DEFAULT_EXPORT_OPTIONS } from "../analytics/export/export-stream.ts";
import type { FocusPrice } from "../analytics/export/focus-prices.ts";
import { type ClickHouseClient, createClickHouse } from "../clickhouse/client.ts";
import { migrate } from "../clickhouse/migrate.ts";
import { openEventLog } from "../eventlog/index.ts";
import type { EventSink } from "../eventlog/ports.ts";
import { redactingSink, type SecretRedactor } from "../eventlog/secret-redactor.ts";
import { buildGateway } from "../gateway/app.ts";
import { seedBudgets } from "../gateway/budget-seed.ts";
import type { Budgets } from "../gateway/budgets.ts";
import type { GatewayConfig } from "../gateway/config.ts";
import { startSharedBudgets } from "../gateway/fleet-spend.ts";
import { metricsRoute } from "../gateway/metrics.ts";
import { tracingSettingsFrom } from "../gateway/observability/tracing-settings.ts";
import { PriceCatalog } from "../gateway/pricing.ts";
import { clickhouseRequestLookup } from "../gateway/request-owners.ts";
import { INGEST_GROUP, INGEST_TOPICS, runIngest } from "../ingest/consumer.ts";
import { IngestMetrics } from "../ingest/ingest-metrics.ts";
import { EventLoader } from "../ingest/loader.ts";
import { type ReplaySummary, replay } from "../ingest/replay.ts";
import type { SwitchboardConfig } from "./config.ts";
import { focusPricesOf } from "./focus-prices.ts";
import { describeBoundAddresses } from "./public-address.ts";

/** Something started that must be stopped, in reverse order, on shutdown. */
export type Stop = () => Promise<void>;

export function clickhouseUrl(config: SwitchboardConfig): string {
  return config.clickhouse_url ?? `chdb:${join(config.data_dir, "clickhouse")}`;
}

export function eventLogFor(config: SwitchboardConfig, metrics?: Registry, logger?: Logger) {
  return openEventLog({
    kafkaBrokers: config.kafka_brokers,
    localDirectory: join(config.data_dir, "events"),
    outboxDirectory: join(config.data_dir, "outbox"),
    partitions: config.kafka_partitions,
    replicationFactor: config.kafka_replication_factor,
    logger,
    metrics,
    batching: {
      maxBatchRecords: config.ingest.max_batch_events,
      maxBatchBytes: config.ingest.max_batch_bytes,
      maxBatchWaitMilliseconds: config.ingest.max_batch_wait_ms,
    },
    outbox: {
      maxSpoolBytes: config.outbox.max_bytes,
      maxMemoryEvents: config.outbox.memory_events,
      sendTimeoutMilliseconds: config.outbox.send_timeout_ms,
    },
  });
}

/** One registry per process: every role in it reports there; `collectDefaultMetrics` adds the process's own. */
export function metricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * `clickhouse`: the process's client where it has one (`switchboard all`);
 * the gateway role alone opens one for the budget seed only when
 * clickhouse_url names a server (embedded chDB is locked by the process
 * running ingest). `redactor`: the process's, built from the vendor keys.
 */
export async function startGateway(
  config: SwitchboardConfig,
  gatewayConfig: GatewayConfig,
  logger: Logger,
  metrics: Registry,
  redactor: SecretRedactor,
  clickhouse?: ClickHouseClient,
): Promise<{ url: string; stop: Stop }> {
  const prices = PriceCatalog.load(gatewayConfig.price_catalog);
  const gatewayLogger = logger.child({ role: "gateway" });
  // With Kafka, an outbox under <data_dir>/outbox/gateway: requests never wait on Kafka.
  // Redacted before it, so budget alerts pass the same redactor as the gateway's events.
  const eventLog = eventLogFor(config, metrics, logger);
  let sink: EventSink = redactingSink(await eventLog.createSink({ outbox: "gateway" }), redactor);
  let budgets: Budgets | undefined;
  let closeFleetSpend: Stop | undefined;
  if (gatewayConfig.budgets.length > 0) {
    // Spend shared by the fleet through the event log, on top of the seed (gateway/fleet-spend.ts).
    const shared = await startSharedBudgets({
      configs: gatewayConfig.budgets,
      sink,
      eventLog,
      after: INGEST_GROUP,
      seed: (unseeded) => seedBudgetsAtStart(config, unseeded, gatewayLogger, clickhouse),
      logger: gatewayLogger,
      metrics,
    });
    sink = shared.sink;
    budgets = shared.budgets;
    closeFleetSpend = shared.close;
  }
  // /v1/feedback finds requests older than its memory in ClickHouse, when the
  // gateway has one: the process's own (`all`), or a server (never embedded chDB,
  // which the ingest process holds).
  const serverUrl = config.clickhouse_url?.startsWith("http") ? config.clickhouse_url : undefined;
  const lookupClient = clickhouse ?? (serverUrl ? createClickHouse(serverUrl) : undefined);
  const app = buildGateway({
    config: gatewayConfig,
    prices,
    sink,
    logger: gatewayLogger,
    metrics,
    budgets,
    requestLookup: lookupClient ? clickhouseRequestLookup(lookupClient) : undefined,
    redactor,
    // The standard OTEL_* variables; off when none names an endpoint (tracing-settings.ts).
    tracing: tracingSettingsFrom(process.env, "switchboard-gateway"),
  });
  const url = await app.listen({ host: gatewayConfig.host, port: gatewayConfig.port });
  logger.info(
    `gateway listening on ${describeBoundAddresses(app.addresses())} (OpenAI API at ${url}/v1)`,
  );
  return {
    url,
    stop: async () => {
      await app.close();
      await closeFleetSpend?.();
      await sink.close();
      if (lookupClient && !clickhouse) await lookupClient.close();
    },
  };
}

/**
 * Spend so far this day and month, from ClickHouse. A gateway that cannot
 * reach ClickHouse still starts (it is on every request's path), counting
 * from zero, and says so at error level.
 */
async function seedBudgetsAtStart(
  config: SwitchboardConfig,
  budgets: Budgets,
  logger: Logger,
  clickhouse: ClickHouseClient | undefined,
): Promise<void> {
  const serverUrl = config.clickhouse_url?.startsWith("http") ? config.clickhouse_url : undefined;
  if (!clickhouse && !serverUrl) {
    logger.warn(
      "budgets start from zero spend: no ClickHouse to seed them from (set clickhouse_url to a server, or run `switchboard all`)",
    );
    return;
  }
  const client = clickhouse ?? createClickHouse(serverUrl as string);
  try {
    const seeded = await seedBudgets(budgets, client);
    logger.info({ seeded }, "budgets seeded from switchboard.request_completed");
  } catch (error) {
    logger.error(
      { err: error },
      "budgets start from zero spend: seeding from ClickHouse failed; hard limits may be overshot this period",
    );
  } finally {
    if (!clickhouse) await client.close();
  }
}

/** `redactor`: the vendor keys kept out of dead letters. */
export async function startIngest(
  config: SwitchboardConfig,
  clickhouse: ClickHouseClient,
  logger: Logger,
  onFailure: (error: unknown) => void,
  metrics: Registry,
  redactor: SecretRedactor,
): Promise<Stop> {
  const ingestLogger = logger.child({ role: "ingest" });
  const eventLog = eventLogFor(config, metrics, ingestLogger);
  // Plain (no outbox): a dead letter not in the log fails the batch, which is not committed.
  const deadLetterSink = await eventLog.createSink();
  const source = await eventLog.createSource(INGEST_GROUP, INGEST_TOPICS);
  const ingestMetrics = IngestMetrics.for(metrics);
  const loader = new EventLoader(clickhouse, deadLetterSink, {
    metrics: ingestMetrics,
    redactor,
  });
  runIngest(source, loader, { logger: ingestLogger, metrics: ingestMetrics }).catch(onFailure);
  ingestLogger.info(`ingest consuming ${INGEST_TOPICS.join(", ")}`);
  return async () => {
    await source.close();
    await deadLetterSink.close();
  };
}

/** `switchboard replay`: the event tables rebuilt from the log; see ingest/replay.ts. */
export async function runReplay(
  config: SwitchboardConfig,
  clickhouse: ClickHouseClient,
  logger: Logger,
  options: { from?: Date; signal?: AbortSignal; redactor: SecretRedactor },
): Promise<ReplaySummary> {
  const replayLogger = logger.child({ role: "replay" });
  const eventLog = eventLogFor(config, undefined, replayLogger);
  const deadLetterSink = await eventLog.createSink();
  try {
    return await replay({
      eventLog,
      clickhouse,
      deadLetterSink,
      from: options.from,
      signal: options.signal,
      logger: replayLogger,
      redactor: options.redactor,
    });
  } finally {
    await deadLetterSink.close();
  }
}

/**
 * `metrics`: the process's registry; the API's request and export metrics
 * go there. Served at GET /metrics here with `serveMetrics` (analytics
 * alone); in `all` the gateway serves the registry.
 */
export async function startAnalytics(
  config: SwitchboardConfig,
  clickhouse: ClickHouseClient,
  logger: Logger,
  metrics: Registry,
  options: { serveMetrics: boolean },
): Promise<{ url: string; stop: Stop }> {
  const app = buildAnalytics({
    clickhouse,
    logger: logger.child({ role: "analytics" }),
    tokens: config.analytics.tokens,
    slo: config.analytics.slo,
    commitments: commitmentsOf(config.gateway.contracts),
    exportOptions: { ...DEFAULT_EXPORT_OPTIONS, focusPrices: focusPricesFor(config, logger) },
    metrics,
  });
  if (options.serveMetrics) app.get("/metrics", metricsRoute(metrics));
  const url = await app.listen({ host: config.analytics.host, port: config.analytics.port });
  logger.info(
    `analytics listening on ${describeBoundAddresses(app.addresses())} (GET ${url}/v1/matrix)`,
  );
  return { url, stop: () => app.close() };
}

/**
 * The FOCUS export's unit prices, from the gateway's price catalog and
 * contracts. Without them (an analytics host without the catalog file) the
 * export still answers, each priced request one row with its recorded cost,
 * and the log says why.
 */
function focusPricesFor(config: SwitchboardConfig, logger: Logger): FocusPrice[] {
  try {
    return focusPricesOf(config.gateway.price_catalog, config.gateway.contracts);
  } catch (error) {
    logger.warn(
      `FOCUS export without unit prices (each priced request one row, unsplit): ${(error as Error).message}`,
    );
    return [];
  }
}

/** Opens ClickHouse and applies pending migrations. */
export async function openClickHouse(
  config: SwitchboardConfig,
  logger: Logger,
): Promise<ClickHouseClient> {
  const clickhouse = createClickHouse(clickhouseUrl(config), { logger });
  const applied = await migrate(clickhouse, undefined, { cluster: config.clickhouse_cluster });
  if (applied.length > 0) logger.info({ applied }, "applied ClickHouse migrations");
  return clickhouse;
}
