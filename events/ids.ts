import { v7 as uuidv7 } from "uuid";

/** Event ids are UUIDv7: unique, and ordered by creation time. */
export function newEventId(): string {
  return uuidv7();
}

let lastMillisecond = Number.NaN;
let lastText = "";

/**
 * Event time: UTC, millisecond precision, as the schemas require. Now, by
 * default, formatted once per millisecond: a busy gateway stamps several
 * events within each one.
 */
export function eventTime(date?: Date): string {
  if (date) return date.toISOString();
  const now = Date.now();
  if (now !== lastMillisecond) {
    lastMillisecond = now;
    lastText = new Date(now).toISOString();
  }
  return lastText;
}
