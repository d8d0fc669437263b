// The real gateway in a process of its own, so a fault test can SIGKILL it
// with events still in its outbox and start it again on the same folder.
// Run: node --import tsx test/fault/gateway-process.ts, settings as JSON in
// FAULT_GATEWAY. Prints "LISTENING <url>" once it answers.
import { pino } from "pino";
import { Registry } from "prom-client";
import { openEventLog } from "../../eventlog/index.ts";
import { startFaultGateway } from "./harness.ts";

interface Settings {
  kafkaBrokers: string;
  outboxDirectory: string;
  tenant: string;
  vendors: { id: string; url: string }[];
}

const settings = JSON.parse(process.env.FAULT_GATEWAY ?? "{}") as Settings;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "warn" });
const metrics = new Registry();
const eventLog = openEventLog({
  kafkaBrokers: settings.kafkaBrokers,
  localDirectory: "/nonexistent",
  outboxDirectory: settings.outboxDirectory,
  logger,
  metrics,
  outbox: {
    sendTimeoutMilliseconds: 1_500,
    retryDelayMilliseconds: 200,
    closeDrainMilliseconds: 0,
  },
});
const sink = await eventLog.createSink({ outbox: "gateway" });
const { url, app } = await startFaultGateway({
  tenant: settings.tenant,
  vendors: settings.vendors,
  sink,
  logger,
  metrics,
});
console.log(`LISTENING ${url}`);
process.once("SIGTERM", () => {
  void (async () => {
    await app.close();
    await sink.close();
    process.exit(0);
  })();
});
