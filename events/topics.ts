import type { EventType } from "./schemas.ts";

// One topic per event type so each ClickHouse table has one source, keyed by
// request id so a request's events keep their order within a partition.
export const TOPIC_PREFIX = "switchboard.";
export const DEAD_LETTER_TOPIC = "switchboard.dead_letter";

export function topicFor(eventType: EventType): string {
  return `${TOPIC_PREFIX}${eventType}`;
}
