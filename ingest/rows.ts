import type { EventType, SwitchboardEvent } from "../events/schemas.ts";

/** The ClickHouse table each event type lands in (one table per topic). */
export const TABLE_FOR_EVENT: Record<EventType, string> = {
  route_decided: "switchboard.route_decided",
  attempt_failed: "switchboard.attempt_failed",
  request_completed: "switchboard.request_completed",
  quality_scored: "switchboard.quality_scored",
  budget_alerted: "switchboard.budget_alerted",
};

/**
 * An event as a table row. Columns mirror the event fields one to one; the
 * only changes are envelope fields the table does not keep (event_type lives in
 * the table name), nullable grouping fields stored as '' (vendor, model, key,
 * team), candidates' scores kept in their own column beside the
 * candidates (migration 0008), and a score's scored request spread into
 * columns (migration 0011).
 */
export function toRow(event: SwitchboardEvent): Record<string, unknown> {
  const { event_type: _eventType, ...row } = event;
  if (event.event_type === "request_completed") {
    return {
      ...row,
      vendor: event.vendor ?? "",
      model: event.model ?? "",
      key_id: event.key_id ?? "",
      team: event.team ?? "",
    };
  }
  if (event.event_type === "attempt_failed") {
    return { ...row, key_id: event.key_id ?? "", team: event.team ?? "" };
  }
  if (event.event_type === "route_decided") {
    return {
      ...row,
      candidates: event.candidates.map(({ score: _score, ...candidate }) => candidate),
      candidate_scores: event.candidates.map((candidate) => candidate.score),
    };
  }
  if (event.event_type === "quality_scored") {
    // The scored request's fields as columns of their own, for the rollup
    // (migration 0011); none on a score upcast from v1.
    const { event_type: _type, scored_request: scored, ...score } = event;
    if (!scored) return score;
    return {
      ...score,
      request_occurred_at: scored.occurred_at,
      task: scored.task,
      vendor: scored.vendor ?? "",
      model: scored.model ?? "",
      key_id: scored.key_id ?? "",
      team: scored.team ?? "",
      tags: scored.tags,
    };
  }
  return row;
}
