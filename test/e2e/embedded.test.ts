import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLedgerScenario } from "./ledger-scenario.ts";
import { type Stack, startStack } from "./stack.ts";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({});
  expect(stack.eventLogKind).toBe("local");
});
afterAll(() => stack?.stop());

describe("embedded mode: local segment log + chDB", () => {
  it("bills every request the client saw, exactly, and dead-letters a poison event", async () => {
    await runLedgerScenario(stack);
  }, 60_000);
});
