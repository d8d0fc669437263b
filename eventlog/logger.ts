import { type Logger, pino } from "pino";

/**
 * The logger an adapter uses when its owner passes none. Callers should pass
 * theirs (style rule 9: dependencies passed in); this default only keeps a
 * loud failure (dropped records, a torn line cut off) from going unreported.
 */
export function defaultEventLogLogger(): Logger {
  return pino({ name: "eventlog" });
}
