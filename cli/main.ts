// `switchboard <role>`: the single entry point. `all` runs every role in one
// process on the embedded defaults; the others run one role each.
import { evalCommand } from "../evals/command.ts";
import { LocalReplayFromError } from "../eventlog/index.ts";
import { redactingLogger } from "../eventlog/logger.ts";
import { MIN_REDACTED_SECRET_LENGTH } from "../eventlog/secret-redactor.ts";
import { vendorSecretRedactor } from "../gateway/vendor-secrets.ts";
import { startBanner } from "./banner.ts";
import { loadConfig, type SwitchboardConfig } from "./config.ts";
import { startDemoVendors } from "./demo.ts";
import { logDestination } from "./log-destination.ts";
import { startMetricsServer } from "./metrics-server.ts";
import { credentialedListeners, refuseDemoCredentialsOnPublicAddress } from "./public-address.ts";
import { parseReplayArguments } from "./replay-arguments.ts";
import {
  clickhouseUrl,
  metricsRegistry,
  openClickHouse,
  runReplay,
  type Stop,
  startAnalytics,
  startGateway,
  startIngest,
} from "./roles.ts";
import { refuseUnsetVendorKeys } from "./vendor-keys.ts";

const USAGE = `usage: switchboard <role>
  all         gateway + ingest + analytics in one process (simulated vendors when none configured)
  gateway     the OpenAI-compatible gateway
  ingest      event log → ClickHouse
  analytics   the analytics API
  simulator   simulated vendors only
  migrate     apply ClickHouse migrations and exit
  replay [--from <ISO-8601 time>]
              rebuild the ClickHouse event tables from the event log and exit (--from: Kafka only)
  eval --gold <cases.jsonl> --candidates <vendor/model,…> [--help for every option]
              run a gold set through the gateway, grade it, record the scores
config: $SWITCHBOARD_CONFIG (default config/switchboard.yaml)`;

async function main(role: string | undefined): Promise<Stop[]> {
  if (!role || role === "help" || role === "--help") {
    console.log(USAGE);
    return [];
  }
  if (role === "eval") {
    // A client of a running gateway: no config, nothing to stop afterwards.
    process.exitCode = await evalCommand(process.argv.slice(3));
    return [];
  }
  const config = loadConfig();
  if (role === "all" || role === "gateway") refuseUnsetVendorKeys(config.gateway.vendors);
  // One redactor for the process, from the configured vendor keys: every log
  // line, answer, event and dead letter passes it.
  const { redactor, unredactedVendors } = vendorSecretRedactor(config.gateway.vendors);
  // Human lines on a terminal, JSON lines otherwise (log-destination.ts).
  const logger = redactingLogger({ level: config.log_level }, redactor, logDestination());
  if (unredactedVendors.length > 0) {
    logger.warn(
      { vendors: unredactedVendors },
      `vendor keys shorter than ${MIN_REDACTED_SECRET_LENGTH} characters are not redacted from answers, logs and events: no real vendor key is that short`,
    );
  }
  // Before anything listens: nothing is exposed, even for a moment.
  await refuseDemoCredentialsOnPublicAddress(credentialedListeners(config, role), {
    allowPublicDemoCredentials: config.allow_public_demo_credentials,
    logger,
  });
  const metrics = metricsRegistry();
  const stops: Stop[] = [];
  const fail = (error: unknown) => {
    logger.fatal({ err: error }, "a role failed; stopping");
    void shutdown(stops).finally(() => process.exit(1));
  };
  const simulated = config.gateway.vendors.length === 0;
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
      // One registry for the three roles, served at the gateway's /metrics.
      stops.push(await startIngest(config, clickhouse, logger, fail, metrics, redactor));
      const analytics = await startAnalytics(config, clickhouse, logger, metrics, {
        serveMetrics: false,
      });
      stops.push(analytics.stop);
      const gateway = await startGateway(
        config,
        gatewayConfig,
        logger,
        metrics,
        redactor,
        clickhouse,
      );
      stops.push(gateway.stop);
      logger.info(
        startBanner(config, {
          gatewayUrl: gateway.url,
          vendors: { ids: gatewayConfig.vendors.map((vendor) => vendor.id), simulated },
          analyticsUrl: analytics.url,
        }),
      );
      break;
    }
    case "gateway": {
      const gatewayConfig = await withVendors(config);
      const gateway = await startGateway(config, gatewayConfig, logger, metrics, redactor);
      stops.push(gateway.stop);
      logger.info(
        startBanner(config, {
          gatewayUrl: gateway.url,
          vendors: { ids: gatewayConfig.vendors.map((vendor) => vendor.id), simulated },
        }),
      );
      break;
    }
    case "ingest": {
      const clickhouse = await openClickHouse(config, logger);
      stops.push(() => clickhouse.close());
      stops.push(await startIngest(config, clickhouse, logger, fail, metrics, redactor));
      const server = await startMetricsServer(
        metrics,
        config.ingest.metrics_host,
        config.ingest.metrics_port,
        logger,
      );
      stops.push(server.stop);
      logger.info(`ingest metrics on ${server.url}/metrics`);
      break;
    }
    case "replay": {
      const { from } = parseReplayArguments(process.argv.slice(3));
      // Said before ClickHouse opens, which takes seconds (the event log would refuse it too).
      if (from && !config.kafka_brokers) throw new LocalReplayFromError();
      const clickhouse = await openClickHouse(config, logger);
      const interrupted = new AbortController();
      const interrupt = () => interrupted.abort();
      process.once("SIGINT", interrupt);
      process.once("SIGTERM", interrupt);
      try {
        const summary = await runReplay(config, clickhouse, logger, {
          from,
          signal: interrupted.signal,
          redactor,
        });
        console.log(JSON.stringify(summary));
      } finally {
        process.removeListener("SIGINT", interrupt);
        process.removeListener("SIGTERM", interrupt);
        await clickhouse.close();
      }
      break;
    }
    case "analytics": {
      const clickhouse = await openClickHouse(config, logger);
      stops.push(() => clickhouse.close());
      const analytics = await startAnalytics(config, clickhouse, logger, metrics, {
        serveMetrics: true,
      });
      stops.push(analytics.stop);
      logger.info(startBanner(config, { analyticsUrl: analytics.url }));
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
