import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";
import { REDACTED, type SecretRedactor } from "./secret-redactor.ts";

/**
 * The logger an adapter uses when its owner passes none. Callers should pass
 * theirs (style rule 9: dependencies passed in); this default only keeps a
 * loud failure (dropped records, a torn line cut off) from going unreported.
 */
export function defaultEventLogLogger(): Logger {
  return pino({ name: "eventlog" });
}

/**
 * Credential headers wherever a logged object carries them: covers keys the
 * process does not know by value (a client's gateway key, an analytics
 * token), should a request's or an upstream call's headers ever be logged.
 */
const CREDENTIAL_HEADER_PATHS = ["authorization", "x-api-key", "api-key", "x-goog-api-key"].flatMap(
  (header) => [`headers["${header}"]`, `*.headers["${header}"]`, `*.*.headers["${header}"]`],
);

/**
 * The process's logger. Every line is redacted as a whole after it is
 * serialised (pino's streamWrite hook), so a vendor key is caught wherever it
 * hides: a message, an error's message, stack or cause, any field, child
 * loggers included. Credential headers are censored by path as well.
 */
export function redactingLogger(
  options: LoggerOptions,
  redactor: SecretRedactor,
  destination?: DestinationStream,
): Logger {
  const withRedaction: LoggerOptions = {
    ...options,
    redact: { paths: CREDENTIAL_HEADER_PATHS, censor: REDACTED },
  };
  // Set only with secrets to redact: pino reads an explicit `hooks: undefined` as no hooks at all.
  if (redactor.active) {
    withRedaction.hooks = { ...options.hooks, streamWrite: (line) => redactor.redact(line) };
  }
  return destination ? pino(withRedaction, destination) : pino(withRedaction);
}
