import { CURRENT_SCHEMAS, EVENT_TYPES, type EventType, type SwitchboardEvent } from "./schemas.ts";
import { upcast } from "./upcasters.ts";

export type ParsedEvent = { ok: true; event: SwitchboardEvent } | { ok: false; reason: string };

/** Largest event ingest accepts; anything bigger is a dead letter, not a row. */
export const MAX_EVENT_BYTES = 64 * 1024;

/**
 * Turns bytes from a topic into a current-version event, or a reason a person
 * can act on. Never throws: a poison event must not stop its partition.
 */
export function parseEvent(bytes: Buffer | string): ParsedEvent {
  const size = typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length;
  if (size > MAX_EVENT_BYTES) {
    return { ok: false, reason: `event is ${size} bytes, over the ${MAX_EVENT_BYTES}-byte limit` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString());
  } catch (error) {
    return { ok: false, reason: `invalid JSON: ${(error as Error).message}` };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: "event is not a JSON object" };
  }
  const record = raw as Record<string, unknown>;
  const eventType = record.event_type;
  if (typeof eventType !== "string" || !EVENT_TYPES.includes(eventType as EventType)) {
    return { ok: false, reason: `unknown event_type ${JSON.stringify(eventType)}` };
  }
  const upcasted = upcast(eventType as EventType, record);
  if ("reason" in upcasted) return { ok: false, reason: upcasted.reason };
  const result = CURRENT_SCHEMAS[eventType as EventType].safeParse(upcasted.event);
  if (!result.success) {
    const problems = result.error.issues.map(
      (issue) => `${issue.path.join(".") || "(event)"}: ${issue.message}`,
    );
    return { ok: false, reason: `invalid ${eventType}: ${problems.join("; ")}` };
  }
  return { ok: true, event: result.data };
}
