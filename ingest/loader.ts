import type { ClickHouseClient } from "../clickhouse/client.ts";
import type { EventSink, LogRecord } from "../eventlog/ports.ts";
import { SecretRedactor } from "../eventlog/secret-redactor.ts";
import { EVENT_TYPES, type EventType } from "../events/schemas.ts";
import { type DeadLetter, deadLetterFor, storeDeadLetters } from "./dead-letters.ts";
import { CURRENT_EVENTS, type DecodedEvent, type EventDecoder } from "./event-decoder.ts";
import type { IngestMetrics } from "./ingest-metrics.ts";
import { findStoredEventIds } from "./stored-event-ids.ts";
import { type InsertOutcome, insertIsolatingBadValues } from "./table-insert.ts";

export type { DeadLetter } from "./dead-letters.ts";

export interface StoredBatch {
  /** Rows inserted, per event type. */
  rows: Record<EventType, number>;
  /** Payload bytes of the rows inserted, per event type. */
  bytes: Record<EventType, number>;
  /** Events left out because they were already stored, or repeated within the batch. */
  duplicates: number;
  /** Dead letters in the batch (new or seen before). */
  deadLetters: number;
}

export interface EventLoaderOptions {
  /** The event contract. Default: the current one in events/. */
  decoder?: EventDecoder;
  /** Counts insert errors per table. */
  metrics?: IngestMetrics;
  /** The vendor keys kept out of dead letters (deadLetterFor). Default: none. */
  redactor?: SecretRedactor;
}

interface PendingRow {
  record: LogRecord;
  event: DecodedEvent;
}

/**
 * Stores one batch read from the log, so that storing it again (a
 * redelivery) changes nothing: exactly once in effect. The order, and what
 * each step guarantees:
 *
 *  1. decode every record; what fails (size, JSON, version, schema) is a
 *     dead letter, never an error of the batch.
 *  2. per table: drop events repeated in the batch, ask the table which of
 *     the rest it already has (findStoredEventIds: bounded by tenant and
 *     time, so it reads only those granules) and drop those, then insert the
 *     rest in one statement. A row the table refuses for its value is cut out
 *     (insertIsolatingBadValues) and becomes a dead letter.
 *  3. dead letters → the dead-letter topic, flushed, then the dead_letters
 *     table (storeDeadLetters).
 *  4. only when all of it succeeded does `store` resolve, and only then does
 *     the source commit the batch's position. Any failure rejects: nothing
 *     is committed and the whole batch comes again, finds what step 2
 *     already inserted, and inserts only the rest.
 *
 * Why step 2 is safe: a record lives in one partition, a partition has one
 * reader at a time in a consumer group, and that reader stores a batch
 * (insert resolves: the rows are visible) before it commits, and commits
 * before it reads on. So when a batch is stored again, every earlier insert
 * of its events has finished and is visible to the lookup. A copy of an
 * event published twice (an outbox resend) sits in the same partition
 * (same request id key), so it is found the same way. The one gap is a
 * reader the group has already declared dead that is still inserting while
 * the partition's new owner looks up the same events (a rebalance overlap
 * past the session timeout): both may insert. The raw tables then still
 * count it once, because they are ReplacingMergeTree on the same key and
 * read with FINAL; only a rollup fed by a materialized view would count
 * that event twice. The source narrows the gap further: it gives up a
 * batch (uncommitted, not stored) when a heartbeat reports a rebalance.
 *
 * Not used: `insert_deduplication_token`. Without
 * `non_replicated_deduplication_window` on a table (and on every
 * materialized view's target), a token does nothing on a single server or
 * chDB; with it on the source table but not on a rollup's target, a retried
 * block is dropped from the table and still counted by the rollup (CHDB
 * notes, trap 2). The lookup above covers the retried batch without either.
 */
export class EventLoader {
  private readonly decoder: EventDecoder;
  private readonly metrics: IngestMetrics | undefined;
  private readonly redactor: SecretRedactor;

  constructor(
    private readonly clickhouse: ClickHouseClient,
    private readonly deadLetterSink: EventSink,
    options: EventLoaderOptions = {},
  ) {
    this.decoder = options.decoder ?? CURRENT_EVENTS;
    this.metrics = options.metrics;
    this.redactor = options.redactor ?? SecretRedactor.none;
  }

  async store(records: LogRecord[]): Promise<StoredBatch> {
    const receivedAt = new Date().toISOString();
    const rowsByTable = new Map<string, PendingRow[]>();
    const deadLetters: DeadLetter[] = [];
    for (const record of records) {
      const decoded = this.decoder.decode(record.value);
      if (!decoded.ok) {
        deadLetters.push(deadLetterFor(record, decoded.reason, receivedAt, this.redactor));
        continue;
      }
      const rows = rowsByTable.get(decoded.table);
      if (rows === undefined) rowsByTable.set(decoded.table, [{ record, event: decoded }]);
      else rows.push({ record, event: decoded });
    }
    const stored: StoredBatch = {
      rows: countPerEventType(),
      bytes: countPerEventType(),
      duplicates: 0,
      deadLetters: 0,
    };
    // chDB runs one statement at a time per connection: table by table.
    for (const [table, rows] of rowsByTable) {
      let fresh: PendingRow[];
      let outcome: InsertOutcome;
      try {
        fresh = await this.withoutStoredEvents(table, rows);
        stored.duplicates += rows.length - fresh.length;
        if (fresh.length === 0) continue;
        outcome = await insertIsolatingBadValues(
          this.clickhouse,
          table,
          fresh.map((pending) => pending.event.row),
        );
      } catch (error) {
        this.metrics?.insertErrors.inc({ table });
        throw error;
      }
      const refused = new Set(outcome.refused.map((refusal) => refusal.index));
      for (const refusal of outcome.refused) {
        const pending = fresh[refusal.index] as PendingRow;
        deadLetters.push(deadLetterFor(pending.record, refusal.reason, receivedAt, this.redactor));
      }
      fresh.forEach((pending, index) => {
        if (refused.has(index)) return;
        stored.rows[pending.event.eventType] += 1;
        stored.bytes[pending.event.eventType] += pending.record.value.length;
      });
    }
    stored.deadLetters = deadLetters.length;
    try {
      await storeDeadLetters(this.clickhouse, this.deadLetterSink, deadLetters);
    } catch (error) {
      this.metrics?.insertErrors.inc({ table: "switchboard.dead_letters" });
      throw error;
    }
    return stored;
  }

  /** The batch's rows for one table minus repeats within it and events the table already has. */
  private async withoutStoredEvents(table: string, rows: PendingRow[]): Promise<PendingRow[]> {
    const seen = new Set<string>();
    const unique: PendingRow[] = [];
    for (const pending of rows) {
      // ClickHouse answers ids in lowercase; an id differing only in case is the same UUID.
      const eventId = pending.event.eventId.toLowerCase();
      if (seen.has(eventId)) continue;
      seen.add(eventId);
      unique.push(pending);
    }
    const alreadyStored = await findStoredEventIds(
      this.clickhouse,
      table,
      unique.map((pending) => pending.event),
    );
    if (alreadyStored.size === 0) return unique;
    return unique.filter((pending) => !alreadyStored.has(pending.event.eventId.toLowerCase()));
  }
}

function countPerEventType(): Record<EventType, number> {
  return Object.fromEntries(EVENT_TYPES.map((eventType) => [eventType, 0])) as Record<
    EventType,
    number
  >;
}
