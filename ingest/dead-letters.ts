import { isUtf8 } from "node:buffer";
import type { ClickHouseClient } from "../clickhouse/client.ts";
import type { EventSink, LogRecord } from "../eventlog/ports.ts";
import { SecretRedactor } from "../eventlog/secret-redactor.ts";
import { DEAD_LETTER_TOPIC } from "../events/topics.ts";

/** A row of switchboard.dead_letters, and the value of a record on the dead-letter topic. */
export interface DeadLetter {
  received_at: string;
  source_topic: string;
  source_partition: number;
  source_offset: string;
  reason: string;
  /**
   * The original bytes as UTF-8 text, or base64 when they are not UTF-8 (the
   * reason says so); a configured vendor key in the text is redacted.
   */
  payload: string;
  payload_bytes: number;
}

export const DEAD_LETTER_TABLE = "switchboard.dead_letters";
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * A dead letter for `record`, keeping its exact bytes and where it came from,
 * but never a vendor key: a record written by anything other than a gateway
 * redacting its events (an older version, another producer) may carry one,
 * and the reason may quote the payload.
 */
export function deadLetterFor(
  record: LogRecord,
  reason: string,
  receivedAt: string,
  redactor: SecretRedactor = SecretRedactor.none,
): DeadLetter {
  const text = isUtf8(record.value);
  return {
    received_at: receivedAt,
    source_topic: record.topic,
    source_partition: record.partition,
    source_offset: record.offset,
    reason: redactor.redact(
      text ? reason : `${reason} (payload is not UTF-8; stored base64-encoded)`,
    ),
    payload: text
      ? redactor.redact(record.value.toString("utf8"))
      : record.value.toString("base64"),
    payload_bytes: record.value.length,
  };
}

/**
 * Stores dead letters so a redelivery adds none twice. The order, and what
 * each step guarantees:
 *  1. positions already in the table are left out: they went through all
 *     the steps below before (the table is written last).
 *  2. the rest → the dead-letter topic, keyed by source position, and the
 *     sink flushed: durable in the log.
 *  3. → the table. A failure here retries the batch; step 2 then appends
 *     those letters to the topic again (the topic is at least once: its
 *     readers key on the source position), and the table gets each once.
 * Returns how many were new.
 */
export async function storeDeadLetters(
  client: ClickHouseClient,
  sink: EventSink,
  deadLetters: DeadLetter[],
): Promise<number> {
  if (deadLetters.length === 0) return 0;
  const stored = await storedPositions(client, deadLetters);
  const fresh = deadLetters.filter((letter) => !stored.has(positionOf(letter)));
  if (fresh.length === 0) return 0;
  for (const letter of fresh)
    sink.append(DEAD_LETTER_TOPIC, positionOf(letter), JSON.stringify(letter));
  await sink.flush();
  await client.insert({ table: DEAD_LETTER_TABLE, values: fresh, format: "JSONEachRow" });
  return fresh.length;
}

function positionOf(letter: {
  source_topic: string;
  source_partition: number | string;
  source_offset: string;
}): string {
  return `${letter.source_topic}:${letter.source_partition}:${letter.source_offset}`;
}

/** Positions per query, so the literals stay under ClickHouse's 256 KiB max_query_size. */
const POSITIONS_PER_QUERY = 4_000;

/** Source positions of these letters already in the table. */
async function storedPositions(
  client: ClickHouseClient,
  deadLetters: DeadLetter[],
): Promise<Set<string>> {
  const stored = new Set<string>();
  for (let start = 0; start < deadLetters.length; start += POSITIONS_PER_QUERY) {
    for (const position of await storedPositionsOf(
      client,
      deadLetters.slice(start, start + POSITIONS_PER_QUERY),
    )) {
      stored.add(position);
    }
  }
  return stored;
}

async function storedPositionsOf(
  client: ClickHouseClient,
  deadLetters: DeadLetter[],
): Promise<string[]> {
  const tuples = deadLetters.map((letter) => {
    // Topic names come from the log and are legal Kafka names; checked before going into the SQL.
    if (!TOPIC_NAME.test(letter.source_topic)) {
      throw new Error(`not a topic name: ${letter.source_topic}`);
    }
    const partition = Number(letter.source_partition);
    const offset = BigInt(letter.source_offset);
    return `('${letter.source_topic}', ${partition}, ${offset})`;
  });
  const result = await client.query({
    query: `SELECT source_topic, source_partition, toString(source_offset) AS source_offset
            FROM ${DEAD_LETTER_TABLE}
            WHERE (source_topic, source_partition, source_offset) IN (${tuples.join(",")})`,
    format: "JSONEachRow",
  });
  const rows = await result.json<{
    source_topic: string;
    source_partition: number;
    source_offset: string;
  }>();
  return rows.map(positionOf);
}
