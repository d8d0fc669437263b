// Where EventLoader.store spends its time, step by step, on in-memory batches:
// decode (size, JSON, upcast, zod), the stored-id lookup, and the insert.
//
//   node --import tsx bench/ingest-store-profile.ts [events, default 100000] [batch, default 20000]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClickHouse } from "../clickhouse/client.ts";
import { migrate } from "../clickhouse/migrate.ts";
import { newEventId } from "../events/ids.ts";
import { parseEvent } from "../events/parse.ts";
import { CURRENT_EVENTS } from "../ingest/event-decoder.ts";
import { findStoredEventIds } from "../ingest/stored-event-ids.ts";
import { insertIsolatingBadValues } from "../ingest/table-insert.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";

const count = Number(process.argv[2] ?? 100_000);
const batch = Number(process.argv[3] ?? 20_000);
const values = Array.from({ length: count }, (_, index) =>
  Buffer.from(
    JSON.stringify(
      sampleRequestCompleted({
        event_id: newEventId(),
        tenant_id: `tenant-${index % 5}`,
        occurred_at: new Date(Date.now() - 3_600_000 + index * 10).toISOString(),
        cost_usd: `0.000${100 + (index % 900)}`,
      }),
    ),
  ),
);
const perSecond = (milliseconds: number) =>
  `${Math.round((count * 1000) / milliseconds).toLocaleString("en-US")}/s`;

let started = performance.now();
for (const value of values) JSON.parse(value.toString());
console.log(`JSON.parse only:              ${perSecond(performance.now() - started)}`);
started = performance.now();
for (const value of values) parseEvent(value);
console.log(`parseEvent (JSON + zod):      ${perSecond(performance.now() - started)}`);
started = performance.now();
const decoded = values.map((value) => CURRENT_EVENTS.decode(value));
console.log(`decode (parseEvent + row):    ${perSecond(performance.now() - started)}`);

const directory = mkdtempSync(join(tmpdir(), "switchboard-profile-"));
const client = createClickHouse(`chdb:${directory}`);
await migrate(client);
const rows = decoded.map((event) => (event.ok ? event.row : {}));
const keys = decoded.flatMap((event) => (event.ok ? [event] : []));
try {
  started = performance.now();
  for (let start = 0; start < count; start += batch) {
    await findStoredEventIds(
      client,
      "switchboard.request_completed",
      keys.slice(start, start + batch),
    );
  }
  console.log(`lookup, nothing stored:       ${perSecond(performance.now() - started)}`);
  started = performance.now();
  for (let start = 0; start < count; start += batch) {
    await client.insert({
      table: "switchboard.request_completed",
      values: rows.slice(start, start + batch),
      format: "JSONEachRow",
    });
  }
  console.log(`insert, JSONEachRow:          ${perSecond(performance.now() - started)}`);
  await client.command({ query: "TRUNCATE TABLE switchboard.request_completed" });
  started = performance.now();
  for (let start = 0; start < count; start += batch) {
    await insertIsolatingBadValues(
      client,
      "switchboard.request_completed",
      rows.slice(start, start + batch),
    );
  }
  console.log(`insert, JSONCompactEachRow:   ${perSecond(performance.now() - started)}`);
  started = performance.now();
  for (let start = 0; start < count; start += batch) {
    await findStoredEventIds(
      client,
      "switchboard.request_completed",
      keys.slice(start, start + batch),
    );
  }
  console.log(`lookup, all ids present:      ${perSecond(performance.now() - started)}`);
} finally {
  await client.close();
  rmSync(directory, { recursive: true, force: true });
}
