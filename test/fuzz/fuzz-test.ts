// The vitest side of a fuzz target: FUZZ_RUNS inputs (a few dozen by
// default, so `npm test` stays quick), the first violating input shrunk and
// shown with its seed and path. `npm run fuzz` runs the same targets at scale.
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  assertNoViolations,
  DEFAULT_TEST_RUNS,
  type FuzzTarget,
  runsFromEnvironment,
  type StartedTarget,
  seedFromEnvironment,
} from "./runner.ts";

export const PROPERTIES_TEST_NAME =
  "no 5xx but documented upstream failures, each answer once in the ledger with usage in the contract, no prompt or answer text in events, /healthz within 100 ms";

export function fuzzTest<Input>(target: FuzzTarget<Input>, name = PROPERTIES_TEST_NAME): void {
  describe(`${target.api}: generated inputs`, () => {
    let started: StartedTarget<Input> | undefined;
    beforeAll(async () => {
      started = await target.start();
    });
    afterAll(async () => {
      await started?.stop();
    });
    it(name, { timeout: 120_000 }, async () => {
      if (!started) throw new Error(`${target.api} did not start`);
      await assertNoViolations(
        started,
        runsFromEnvironment(DEFAULT_TEST_RUNS),
        seedFromEnvironment(),
      );
    });
  });
}
