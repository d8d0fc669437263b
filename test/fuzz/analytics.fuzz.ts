// The analytics API's fuzz target: analytics-inputs.ts's cases and
// properties, with /healthz probed beside each.
import {
  type AnalyticsCase,
  analyticsCase,
  answerViolations,
  startAnalyticsUnderTest,
} from "./analytics-inputs.ts";
import { whileProbed } from "./responsiveness.ts";
import type { FuzzTarget } from "./runner.ts";

export const analyticsTarget: FuzzTarget<AnalyticsCase> = {
  api: "analytics",
  async start() {
    const underTest = await startAnalyticsUnderTest();
    return {
      arbitrary: analyticsCase,
      async check(input) {
        const { result, violations } = await whileProbed(underTest.app, () =>
          underTest.send(input),
        );
        return [...answerViolations(result.statusCode, result.body), ...violations];
      },
      stats: () =>
        Object.fromEntries(
          [...underTest.statuses].map(([status, count]) => [`status_${status}`, count]),
        ),
      stop: () => underTest.stop(),
    };
  },
};
