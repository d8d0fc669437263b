// The export cursor: a position in ingest time. "Every row of this dataset
// ingested before `ingested_before` has been delivered."
//
// Why ingest time and not event time: events arrive late relative to
// occurred_at (a gateway's outbox drains after an outage, a replay refills a
// table), so a cursor on occurred_at would skip every late event. ingested_at
// is stamped by ClickHouse when the row is stored, so new rows always land
// after any cursor handed out before them, with one exception the export
// guards against: a row stamped at T becomes visible only when its insert
// commits. A response therefore only covers rows ingested before a horizon a
// settle time in the past (longer than any insert takes, and than the clock
// skew between ClickHouse servers), and every response ends on a millisecond
// boundary with all of that millisecond's rows in it — so no tie-breaker on
// event_id is needed, and no row is delivered twice or skipped.
import { ParameterError } from "../errors.ts";
import { EARLIEST_TIME, LATEST_TIME } from "../parameters.ts";
import type { ExportDatasetName } from "./datasets.ts";

export interface ExportCursor {
  dataset: ExportDatasetName;
  /** Epoch milliseconds: every row ingested before this was delivered. */
  ingestedBefore: number;
}

export function encodeCursor(cursor: ExportCursor): string {
  const text = JSON.stringify({
    dataset: cursor.dataset,
    ingested_before: new Date(cursor.ingestedBefore).toISOString(),
  });
  return Buffer.from(text).toString("base64url");
}

export function decodeCursor(text: string, dataset: ExportDatasetName): ExportCursor {
  let decoded: { dataset?: unknown; ingested_before?: unknown };
  try {
    decoded = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw new ParameterError("cursor", "not a cursor this API handed out");
  }
  // Whatever the JSON holds (null, a number, an object whose toString throws),
  // only the two strings this API writes are read.
  if (
    typeof decoded !== "object" ||
    decoded === null ||
    typeof decoded.ingested_before !== "string" ||
    typeof decoded.dataset !== "string"
  ) {
    throw new ParameterError("cursor", "not a cursor this API handed out");
  }
  const ingestedBefore = Date.parse(decoded.ingested_before);
  // A position ClickHouse's DateTime64 can hold, as every cursor handed out is.
  if (
    Number.isNaN(ingestedBefore) ||
    ingestedBefore < EARLIEST_TIME.getTime() ||
    ingestedBefore > LATEST_TIME.getTime()
  ) {
    throw new ParameterError("cursor", "not a cursor this API handed out");
  }
  if (decoded.dataset !== dataset) {
    throw new ParameterError(
      "cursor",
      `this cursor belongs to another export than ${dataset}; pull ${dataset} with its own cursor`,
    );
  }
  return { dataset, ingestedBefore };
}
