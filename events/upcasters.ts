import { CURRENT_SCHEMAS, type EventType } from "./schemas.ts";

type RawEvent = Record<string, unknown>;
type Upcaster = (event: RawEvent) => RawEvent;

/**
 * For each event type, the step from version N to N+1, keyed by N. When a
 * schema gains version 2, its v1 → v2 step goes here and v1 events stay
 * readable forever. None exist yet: every schema is at version 1.
 */
const UPCASTERS: Record<EventType, Record<number, Upcaster>> = {
  route_decided: {},
  attempt_failed: {},
  request_completed: {},
  quality_scored: {},
};

export function currentVersion(eventType: EventType): number {
  return CURRENT_SCHEMAS[eventType].shape.schema_version.value;
}

/** Brings a raw event up to its type's current version, or says why it cannot. */
export function upcast(
  eventType: EventType,
  event: RawEvent,
): { event: RawEvent } | { reason: string } {
  const target = currentVersion(eventType);
  let version = event.schema_version;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    return { reason: `schema_version must be a positive integer, got ${JSON.stringify(version)}` };
  }
  if (version > target) {
    return { reason: `${eventType} schema_version ${version} is newer than ${target}` };
  }
  let current = event;
  while (version < target) {
    const step = UPCASTERS[eventType][version];
    if (!step) return { reason: `no upcaster for ${eventType} v${version}` };
    current = step(current);
    version += 1;
  }
  return { event: current };
}
