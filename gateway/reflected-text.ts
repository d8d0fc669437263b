// Text a client sent that the gateway repeats: field names in warnings and
// error params, models in error messages, the URL of an unknown route. Each
// is bounded here before it reaches a header, a body or an event, so what a
// client sends cannot make an answer it cannot read (a 100 KB header) or an
// event the ledger refuses.

/** A field name or value quoted inside a sentence. */
export const MAX_QUOTED_LENGTH = 64;

/** The event's bounds on warnings (events/schemas.ts, request_completed). */
export const MAX_WARNINGS = 20;
export const MAX_WARNING_LENGTH = 500;

/**
 * x-switchboard-warnings stays well inside the 16 KB that Node and undici
 * accept for a whole header block, whatever the warnings' characters.
 */
export const MAX_WARNINGS_HEADER_BYTES = 4000;

/** `text` cut to at most `maxLength` characters, marked with "…" where cut (never inside a surrogate pair). */
export function truncated(text: string, maxLength: number = MAX_QUOTED_LENGTH): string {
  if (text.length <= maxLength) return text;
  let end = maxLength - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** At most MAX_WARNINGS warnings of at most MAX_WARNING_LENGTH characters, as the event takes them. */
export function boundedWarnings(warnings: readonly string[]): string[] {
  const kept = warnings.length > MAX_WARNINGS ? warnings.slice(0, MAX_WARNINGS - 1) : warnings;
  const bounded = kept.map((warning) => truncated(warning, MAX_WARNING_LENGTH));
  if (warnings.length > MAX_WARNINGS) {
    bounded.push(`…and ${warnings.length - kept.length} more warnings`);
  }
  return bounded;
}

/**
 * The warnings as one header value: a JSON array of visible ASCII (other
 * characters \u-escaped), of at most MAX_WARNINGS_HEADER_BYTES; warnings
 * past that are counted in a last entry, never cut off silently.
 */
export function warningsHeaderValue(warnings: readonly string[]): string {
  const entries = boundedWarnings(warnings).map(asciiJson);
  let value = "[";
  for (const [index, entry] of entries.entries()) {
    const left = entries.length - index;
    // Room kept for the count of what does not fit.
    const note = asciiJson(`…and ${left} more warnings`);
    const fits = value.length + entry.length + 1 + (left > 1 ? note.length + 1 : 0) + 1;
    if (fits > MAX_WARNINGS_HEADER_BYTES) {
      return `${value}${index > 0 ? "," : ""}${note}]`;
    }
    value += `${index > 0 ? "," : ""}${entry}`;
  }
  return `${value}]`;
}

function asciiJson(text: string): string {
  return JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
