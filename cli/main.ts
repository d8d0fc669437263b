// `switchboard <role>`: the single entry point. `all` runs every role in one
// process on the embedded defaults; the others run one role each.
import { pino } from "pino";
import { loadConfig, type SwitchboardConfig } from "./config.ts";
import { startDemoVendors } from "./demo.ts";
import {
  clickhouseUrl,
  openClickHouse,
  type Stop,
  startAnalytics,
  startGateway,
  startIngest,
} from "./roles.ts";

const USAGE = `usage: switchboard <role>
  all         gateway + ingest + analytics in one process (simulated vendors when none configured)
  gateway     the OpenAI-compatible gateway
  ingest      event log → ClickHouse
  analytics   the analytics API
  simulator   simulated vendors only
  migrate     apply ClickHouse migrations and exit
config: $SWITCHBOARD_CONFIG (default config/switchboard.yaml)`;

async function main(role: string | undefined): Promise<Stop[]> {
  if (!role || role === "help" || role === "--help") {
    console.log(USAGE);
    return [];
  }
  const config = loadConfig();
  const logger = pino({ level: config.log_level });
  const stops: Stop[] = [];
  const fail = (error: unknown) => {
    logger.fatal({ err: error }, "a role failed; stopping");
    void shutdown(stops).finally(() => process.exit(1));
  };
  const withVendors = async (current: SwitchboardConfig) => {
    if (current.gateway.vendors.length > 0) return current.gateway;
    const demo = await startDemoVendors(current, logger);
    for (const simulator of demo.simulators) stops.push(() => simulator.close());
    return demo.gateway;
  };

  switch (role) {
    case "all": {
      const gatewayConfig = await withVendors(config);
      logger.info(
        `ClickHouse: ${clickhouseUrl(config)}; event log: ${config.kafka_brokers ? `Kafka ${config.kafka_brokers}` : `${config.data_dir}/events`}`,
      );
      const clickhouse = await openClickHouse(config, logger);
      stops.push(() => clickhouse.close());
      stops.push(await startIngest(config, clickhouse, logger, fail));
      stops.push((await startAnalytics(config, clickhouse, logger)).stop);
      stops.push((await startGateway(config, gatewayConfig, logger)).stop);
      break;
    }
    case "gateway":
      stops.push((await startGateway(config, await withVendors(config), logger)).stop);
      break;
    case "ingest": {
      const clickhouse = await openClickHouse(config, logger);
      stops.push(() => clickhouse.close());
      stops.push(await startIngest(config, clickhouse, logger, fail));
      break;
    }
    case "analytics": {
      const clickhouse = await openClickHouse(config, logger);
      stops.push(() => clickhouse.close());
      stops.push((await startAnalytics(config, clickhouse, logger)).stop);
      break;
    }
    case "simulator": {
      const demo = await startDemoVendors(config, logger);
      for (const simulator of demo.simulators) stops.push(() => simulator.close());
      break;
    }
    case "migrate": {
      const clickhouse = await openClickHouse(config, logger);
      await clickhouse.close();
      logger.info("migrations are up to date");
      break;
    }
    default:
      console.error(`unknown role "${role}"\n${USAGE}`);
      process.exitCode = 2;
  }
  return stops;
}

async function shutdown(stops: Stop[]): Promise<void> {
  for (const stop of stops.splice(0).reverse()) {
    await stop().catch((error) => console.error("error while stopping:", error));
  }
}

main(process.argv[2]).then(
  (stops) => {
    if (stops.length === 0) return;
    const stopOnSignal = () => void shutdown(stops).then(() => process.exit(0));
    process.once("SIGINT", stopOnSignal);
    process.once("SIGTERM", stopOnSignal);
  },
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
