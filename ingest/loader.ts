import type { ClickHouseClient } from "../clickhouse/client.ts";
import type { EventSink, LogRecord } from "../eventlog/ports.ts";
import { parseEvent } from "../events/parse.ts";
import type { EventType } from "../events/schemas.ts";
import { DEAD_LETTER_TOPIC } from "../events/topics.ts";
import { TABLE_FOR_EVENT, toRow } from "./rows.ts";

export interface DeadLetter {
  received_at: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  reason: string;
  payload: string;
  payload_bytes: number;
}

export interface StoredBatch {
  rows: Record<EventType, number>;
  deadLetters: number;
}

/**
 * Stores one batch read from the log. The order, and what each step guarantees:
 *  1. valid events → one insert per table. Tables collapse a repeated event_id,
 *     so a batch redelivered after a crash adds no visible row.
 *  2. invalid events → the dead_letters table and the dead-letter topic, with
 *     their original bytes, position and reason; the dead-letter sink is
 *     flushed (durable) before we return.
 *  3. only when both succeeded does this resolve, and only then does the
 *     source commit the batch's position. Any failure rejects: nothing is
 *     committed and the whole batch comes again.
 */
export class EventLoader {
  constructor(
    private readonly clickhouse: ClickHouseClient,
    private readonly deadLetterSink: EventSink,
  ) {}

  async store(records: LogRecord[]): Promise<StoredBatch> {
    const rowsByTable = new Map<EventType, Record<string, unknown>[]>();
    const deadLetters: DeadLetter[] = [];
    const receivedAt = new Date().toISOString();
    for (const record of records) {
      const parsed = parseEvent(record.value);
      if (parsed.ok) {
        const rows = rowsByTable.get(parsed.event.event_type) ?? [];
        rows.push(toRow(parsed.event));
        rowsByTable.set(parsed.event.event_type, rows);
      } else {
        deadLetters.push({
          received_at: receivedAt,
          source_topic: record.topic,
          source_partition: record.partition,
          source_offset: record.offset,
          reason: parsed.reason,
          payload: record.value.toString("utf8"),
          payload_bytes: record.value.length,
        });
      }
    }
    const stored: StoredBatch = {
      rows: { route_decided: 0, attempt_failed: 0, request_completed: 0 },
      deadLetters: deadLetters.length,
    };
    // chDB runs one statement at a time per connection: insert table by table.
    for (const [eventType, rows] of rowsByTable) {
      await this.clickhouse.insert({
        table: TABLE_FOR_EVENT[eventType],
        values: rows,
        format: "JSONEachRow",
      });
      stored.rows[eventType] = rows.length;
    }
    if (deadLetters.length > 0) {
      await this.clickhouse.insert({
        table: "switchboard.dead_letters",
        values: deadLetters,
        format: "JSONEachRow",
      });
      for (const deadLetter of deadLetters) {
        this.deadLetterSink.append(
          DEAD_LETTER_TOPIC,
          `${deadLetter.source_topic}:${deadLetter.source_partition}:${deadLetter.source_offset}`,
          JSON.stringify(deadLetter),
        );
      }
      await this.deadLetterSink.flush();
    }
    return stored;
  }
}
