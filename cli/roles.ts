import { join } from "node:path";
import type { Logger } from "pino";
import { buildAnalytics } from "../analytics/app.ts";
import { type ClickHouseClient, createClickHouse } from "../clickhouse/client.ts";
import { migrate } from "../clickhouse/migrate.ts";
import { openEventLog } from "../eventlog/index.ts";
import { buildGateway } from "../gateway/app.ts";
import type { GatewayConfig } from "../gateway/config.ts";
import { PriceCatalog } from "../gateway/pricing.ts";
import { INGEST_GROUP, INGEST_TOPICS, runIngest } from "../ingest/consumer.ts";
import { EventLoader } from "../ingest/loader.ts";
import type { SwitchboardConfig } from "./config.ts";

/** Something started that must be stopped, in reverse order, on shutdown. */
export type Stop = () => Promise<void>;

export function clickhouseUrl(config: SwitchboardConfig): string {
  return config.clickhouse_url ?? `chdb:${join(config.data_dir, "clickhouse")}`;
}

export function eventLogFor(config: SwitchboardConfig) {
  return openEventLog({
    kafkaBrokers: config.kafka_brokers,
    localDirectory: join(config.data_dir, "events"),
    partitions: config.kafka_partitions,
  });
}

export async function startGateway(
  config: SwitchboardConfig,
  gatewayConfig: GatewayConfig,
  logger: Logger,
): Promise<{ url: string; stop: Stop }> {
  const prices = PriceCatalog.load(gatewayConfig.price_catalog);
  const sink = await eventLogFor(config).createSink();
  const app = buildGateway({
    config: gatewayConfig,
    prices,
    sink,
    logger: logger.child({ role: "gateway" }),
  });
  const url = await app.listen({ host: gatewayConfig.host, port: gatewayConfig.port });
  logger.info(`gateway listening on ${url} (OpenAI API at ${url}/v1)`);
  return {
    url,
    stop: async () => {
      await app.close();
      await sink.close();
    },
  };
}

export async function startIngest(
  config: SwitchboardConfig,
  clickhouse: ClickHouseClient,
  logger: Logger,
  onFailure: (error: unknown) => void,
): Promise<Stop> {
  const eventLog = eventLogFor(config);
  const deadLetterSink = await eventLog.createSink();
  const source = await eventLog.createSource(INGEST_GROUP, INGEST_TOPICS);
  const ingestLogger = logger.child({ role: "ingest" });
  runIngest(source, new EventLoader(clickhouse, deadLetterSink), ingestLogger).catch(onFailure);
  ingestLogger.info(`ingest consuming ${INGEST_TOPICS.join(", ")}`);
  return async () => {
    await source.close();
    await deadLetterSink.close();
  };
}

export async function startAnalytics(
  config: SwitchboardConfig,
  clickhouse: ClickHouseClient,
  logger: Logger,
): Promise<{ url: string; stop: Stop }> {
  const app = buildAnalytics({ clickhouse, logger: logger.child({ role: "analytics" }) });
  const url = await app.listen({ host: config.analytics.host, port: config.analytics.port });
  logger.info(`analytics listening on ${url} (GET ${url}/v1/matrix)`);
  return { url, stop: () => app.close() };
}

/** Opens ClickHouse and applies pending migrations. */
export async function openClickHouse(
  config: SwitchboardConfig,
  logger: Logger,
): Promise<ClickHouseClient> {
  const clickhouse = createClickHouse(clickhouseUrl(config));
  const applied = await migrate(clickhouse);
  if (applied.length > 0) logger.info({ applied }, "applied ClickHouse migrations");
  return clickhouse;
}
