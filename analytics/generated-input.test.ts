// The analytics API under generated query strings and bodies (the cases are
// test/fuzz/analytics-inputs.ts's): never a 5xx, every refusal in the API's
// error format naming its field. FUZZ_RUNS sets how many (`npm run fuzz`
// runs the same cases at scale, /healthz probed); FUZZ_SEED and FUZZ_PATH
// replay one it reported.
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import {
  type AnalyticsUnderTest,
  analyticsCase,
  answerViolations,
  startAnalyticsUnderTest,
} from "../test/fuzz/analytics-inputs.ts";

let underTest: AnalyticsUnderTest;
beforeAll(async () => {
  underTest = await startAnalyticsUnderTest();
});
afterAll(() => underTest?.stop());

describe("the analytics API under generated input", () => {
  it("never answers a 5xx to any query string or body; every refusal in the API's error format, naming its field", {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(analyticsCase, async (input) => {
        const response = await underTest.send(input);
        const violations = answerViolations(response.statusCode, response.body);
        if (violations.length > 0) {
          throw new Error(violations.map((each) => `${each.property}: ${each.detail}`).join("\n"));
        }
      }),
      {
        numRuns: Number(process.env.FUZZ_RUNS) || 100,
        seed: process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined,
        path: process.env.FUZZ_PATH || undefined,
      },
    );
  });
});
