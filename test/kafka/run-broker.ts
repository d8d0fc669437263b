// Runs the test broker by hand, for trying the distributed mode locally:
//   node --import tsx test/kafka/run-broker.ts
// then export the printed KAFKA_BROKERS=… in the shells that run the roles.
import { startKafkaBroker } from "./broker.ts";

const startedAt = performance.now();
const broker = await startKafkaBroker();
console.log(`KAFKA_BROKERS=${broker.brokers}`);
console.error(
  `Kafka broker ready in ${Math.round(performance.now() - startedAt)} ms; ` +
    `its log: ${broker.brokerLogFile}. Ctrl-C stops it and deletes its data.`,
);

let stopping = false;
async function stopAndExit(signal: NodeJS.Signals): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.error(`${signal}: stopping the Kafka broker`);
  await broker.destroy();
  process.exit(0);
}
process.on("SIGINT", stopAndExit);
process.on("SIGTERM", stopAndExit);
