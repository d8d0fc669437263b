import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runLedgerScenario } from "./ledger-scenario.ts";
import { type Stack, startStack } from "./stack.ts";

let stack: Stack;
beforeAll(async () => {
  const kafkaBrokers = inject("kafkaBrokers");
  // Never fall back to the local log: this test is about the real broker.
  if (!kafkaBrokers)
    throw new Error("no Kafka broker: run without UNIT_ONLY, or set KAFKA_BROKERS");
  stack = await startStack({ kafkaBrokers });
  expect(stack.eventLogKind).toBe("kafka");
});
afterAll(() => stack?.stop());

describe("distributed event path: real Kafka broker + chDB", () => {
  it("bills every request the client saw, exactly, and dead-letters a poison event", async () => {
    await runLedgerScenario(stack);
  }, 90_000);
});
