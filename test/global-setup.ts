// Starts one real Kafka broker for the whole test run (starting one takes seconds,
// so never once per file) unless KAFKA_BROKERS points at a broker already running.
import type { TestProject } from "vitest/node";
import { startKafkaBroker } from "./kafka/broker.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Bootstrap address of the Kafka broker for this run, e.g. `127.0.0.1:41234`. */
    kafkaBrokers: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | void> {
  const configuredBrokers = process.env.KAFKA_BROKERS;
  if (configuredBrokers) {
    project.provide("kafkaBrokers", configuredBrokers);
    return;
  }
  // No try/catch: a broker that cannot start must fail the run, never skip tests.
  const broker = await startKafkaBroker();
  project.provide("kafkaBrokers", broker.brokers);
  return () => broker.destroy();
}
