import { parseEvent } from "../events/parse.ts";
import type { EventType } from "../events/schemas.ts";
import { TABLE_FOR_EVENT, toRow } from "./rows.ts";

/** An event ready to store: its table row and the fields the idempotent load keys on. */
export interface DecodedEvent {
  ok: true;
  eventType: EventType;
  table: string;
  row: Record<string, unknown>;
  eventId: string;
  tenantId: string;
  /** UTC, milliseconds, ending in Z. */
  occurredAt: string;
}

/**
 * Turns bytes from a topic into a row of the current schema version (upcasting
 * older versions), or a reason it cannot. Ingest's seam to the event contract:
 * production uses `CURRENT_EVENTS`; a test can bring a contract with a version
 * the real one does not have yet.
 */
export interface EventDecoder {
  /** Never throws: a poison event must become a dead letter, not stop its partition. */
  decode(bytes: Buffer): DecodedEvent | { ok: false; reason: string };
}

/** The contract in events/: parseEvent (size, JSON, upcast, zod), then rows.ts. */
export const CURRENT_EVENTS: EventDecoder = {
  decode(bytes) {
    const parsed = parseEvent(bytes);
    if (!parsed.ok) return parsed;
    const event = parsed.event;
    return {
      ok: true,
      eventType: event.event_type,
      table: TABLE_FOR_EVENT[event.event_type],
      row: toRow(event),
      eventId: event.event_id,
      tenantId: event.tenant_id,
      occurredAt: event.occurred_at,
    };
  },
};
