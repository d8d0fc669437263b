// A gateway replica with a shared budget, in a process of its own: the real
// gateway and the same shared-spend wiring as `switchboard gateway`
// (startSharedBudgets), following the fleet's spend on Kafka. No ClickHouse:
// the seed is empty and the follower starts where ingest has committed
// (nothing here, so from the earliest record).
// Run: node --import tsx test/fault/budget-gateway-process.ts, settings as
// JSON in FAULT_BUDGET_GATEWAY. Prints "LISTENING <url>" once it answers.
import { pino } from "pino";
import { Registry } from "prom-client";
import { openEventLog } from "../../eventlog/index.ts";
import { buildGateway } from "../../gateway/app.ts";
import { gatewayConfig } from "../../gateway/config.ts";
import { startSharedBudgets } from "../../gateway/fleet-spend.ts";
import { INGEST_GROUP } from "../../ingest/consumer.ts";
import { FAULT_PRICES, faultGatewayConfig } from "./harness.ts";

interface Settings {
  kafkaBrokers: string;
  outboxDirectory: string;
  tenant: string;
  vendors: { id: string; url: string }[];
  /** The fault key's budget: USD per day. */
  hardLimitUsd: string;
}

const settings = JSON.parse(process.env.FAULT_BUDGET_GATEWAY ?? "{}") as Settings;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "warn" });
const metrics = new Registry();
const eventLog = openEventLog({
  kafkaBrokers: settings.kafkaBrokers,
  localDirectory: "/nonexistent",
  outboxDirectory: settings.outboxDirectory,
  logger,
  metrics,
  batching: { maxBatchWaitMilliseconds: 100 },
  outbox: { sendTimeoutMilliseconds: 1_500, retryDelayMilliseconds: 200 },
});
const config = gatewayConfig.parse({
  ...faultGatewayConfig(settings.tenant, settings.vendors),
  budgets: [
    {
      id: "fault-daily",
      scope: "key",
      scope_id: "fault",
      unit: "usd",
      period: "day",
      hard_limit: settings.hardLimitUsd,
    },
  ],
});
const shared = await startSharedBudgets({
  configs: config.budgets,
  sink: await eventLog.createSink({ outbox: "gateway" }),
  eventLog,
  after: INGEST_GROUP,
  seed: async () => {},
  logger,
  metrics,
});
const app = buildGateway({
  config,
  prices: FAULT_PRICES,
  sink: shared.sink,
  budgets: shared.budgets,
  logger,
  metrics,
});
// What the lag gauge reports, apart from /metrics.
app.get("/fault/fleet-lag", async () => ({ lag: await shared.lag() }));
const url = await app.listen({ host: "127.0.0.1", port: 0 });
console.log(`LISTENING ${url}`);
process.once("SIGTERM", () => {
  void (async () => {
    await app.close();
    await shared.close();
    await shared.sink.close();
    process.exit(0);
  })();
});
