import { afterAll, beforeAll, describe, inject, it } from "vitest";
import { runLedgerScenario } from "./ledger-scenario.ts";
import { type Stack, startStack } from "./stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ kafkaBrokers: inject("kafkaBrokers") });
});
afterAll(() => stack?.stop());

describe("distributed event path: real Kafka broker + chDB", () => {
  it("bills every request the client saw, exactly, and dead-letters a poison event", async () => {
    await runLedgerScenario(stack);
  }, 90_000);
});
