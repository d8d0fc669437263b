// `switchboard replay [--from <ISO-8601 time>]`, read with node:util's parseArgs.
import { parseArgs } from "node:util";

/** The `--from` time, or undefined; anything else stops with a message saying what replay takes. */
export function parseReplayArguments(argumentsAfterRole: string[]): { from?: Date } {
  let from: string | undefined;
  try {
    ({
      values: { from },
    } = parseArgs({
      args: argumentsAfterRole,
      options: { from: { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new Error(`replay: ${(error as Error).message}; it takes only --from <ISO-8601 time>`);
  }
  if (from === undefined) return {};
  // A date first: Date.parse alone would take "1" or "May" as a time.
  const time = /^\d{4}-\d{2}-\d{2}/.test(from) ? Date.parse(from) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new Error(
      `replay --from takes an ISO-8601 time, e.g. --from 2026-11-20T00:00:00Z, not ${JSON.stringify(from)}`,
    );
  }
  return { from: new Date(time) };
}
