import type { ClickHouseClient } from "../clickhouse/client.ts";

/**
 * ClickHouse error codes that blame a value in the data, not the table or
 * the server: a row the table will never take, whichever batch it is in
 * (a Decimal with more digits than the column, an unparsable date…).
 * Errors that blame the table itself, such as an unknown column while a
 * migration is missing (INCORRECT_DATA, NO_SUCH_COLUMN_IN_TABLE), are left
 * out on purpose: they hold the batch and are retried, rather than turning
 * every event into a dead letter.
 */
const VALUE_ERROR_CODES = new Set([
  "6", // CANNOT_PARSE_TEXT
  "26", // CANNOT_PARSE_QUOTED_STRING
  "27", // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  "38", // CANNOT_PARSE_DATE
  "41", // CANNOT_PARSE_DATETIME
  "69", // ARGUMENT_OUT_OF_BOUND (a Decimal too big for its column)
  "70", // CANNOT_CONVERT_TYPE
  "72", // CANNOT_PARSE_NUMBER
  "131", // TOO_LARGE_STRING_SIZE
  "321", // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  "407", // DECIMAL_OVERFLOW
]);

export function isValueError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && VALUE_ERROR_CODES.has(code);
}

export interface InsertOutcome {
  /** Indexes of the rows the table refused for their values, with ClickHouse's reason. */
  refused: { index: number; reason: string }[];
}

/**
 * Inserts `rows` in one statement. If ClickHouse refuses a value, the rows
 * are split in halves and each half inserted on its own, down to the single
 * rows it refuses; those come back as `refused` (to become dead letters) and
 * every other row is stored. So one bad value never holds its partition, and
 * the good rows of its batch still go in whole halves, not one by one. Any
 * other error (connection, timeout, a missing column) rejects: the caller
 * retries the batch.
 *
 */
export async function insertIsolatingBadValues(
  client: ClickHouseClient,
  table: string,
  rows: Record<string, unknown>[],
): Promise<InsertOutcome> {
  const refused: InsertOutcome["refused"] = [];
  await insertRange(client, table, rows, 0, rows.length, refused);
  return { refused };
}

async function insertRange(
  client: ClickHouseClient,
  table: string,
  rows: Record<string, unknown>[],
  start: number,
  end: number,
  refused: InsertOutcome["refused"],
): Promise<void> {
  if (start >= end) return;
  try {
    await insertCompact(
      client,
      table,
      start === 0 && end === rows.length ? rows : rows.slice(start, end),
    );
  } catch (error) {
    if (!isValueError(error)) throw error;
    if (end - start === 1) {
      refused.push({ index: start, reason: `ClickHouse refused the row: ${errorText(error)}` });
      return;
    }
    const middle = start + Math.floor((end - start) / 2);
    await insertRange(client, table, rows, start, middle, refused);
    await insertRange(client, table, rows, middle, end, refused);
  }
}

/**
 * One INSERT in JSONCompactEachRow: each row an array in the order of a
 * column list sent once. chDB parses it about 1.6 times as fast as
 * JSONEachRow, which matches every field by name (bench/RESULTS.md). The
 * columns are every key any row has; a row without one sends null, which
 * ClickHouse reads as the column's default (input_format_null_as_default)
 * for a column that is not Nullable, and as NULL for one that is.
 */
async function insertCompact(
  client: ClickHouseClient,
  table: string,
  rows: Record<string, unknown>[],
): Promise<void> {
  const columnSet = new Set<string>();
  for (const row of rows) {
    // As JSON.stringify would: a key whose value is undefined is no column.
    for (const column in row) if (row[column] !== undefined) columnSet.add(column);
  }
  const columns = [...columnSet];
  const values = rows.map((row) => columns.map((column) => row[column] ?? null));
  await client.insert({
    table,
    columns: columns as [string, ...string[]],
    values,
    format: "JSONCompactEachRow",
  });
}

function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // ClickHouse appends the row it was reading and a stack; the first line says it.
  return message.split("\n")[0]?.slice(0, 500) ?? message;
}
