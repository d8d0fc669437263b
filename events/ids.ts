import { v7 as uuidv7 } from "uuid";

/** Event ids are UUIDv7: unique, and ordered by creation time. */
export function newEventId(): string {
  return uuidv7();
}

/** Event time: UTC, millisecond precision, as the schemas require. */
export function eventTime(date = new Date()): string {
  return date.toISOString();
}
