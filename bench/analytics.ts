// Analytics benchmark: the matrix and the Arrow export over synthetic events
// generated inside ClickHouse (INSERT … SELECT FROM numbers(), through the
// materialized views that feed the rollup, as ingest's inserts would).
//
//   node --import tsx bench/analytics.ts                 # 100M requests in .tmp/bench-analytics
//   BENCH_EVENTS=10000000 node --import tsx bench/analytics.ts
//   BENCH_DIR=/path node --import tsx bench/analytics.ts # reuses data already generated there
//
// Prints a Markdown section for bench/RESULTS.md. Figures are wall times in
// this process (chDB in-process, the API through fastify's inject or a real
// socket), with a reference run of the bare engine beside each, as ratios.
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { RecordBatchReader } from "apache-arrow";
import pino from "pino";
import { request } from "undici";
import { buildAnalytics } from "../analytics/app.ts";
import { METRICS } from "../analytics/matrix-query.ts";
import { createClickHouse } from "../clickhouse/client.ts";
import { migrate } from "../clickhouse/migrate.ts";

const TOTAL_EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000_000);
const DIRECTORY = process.env.BENCH_DIR ?? `.tmp/bench-analytics-${TOTAL_EVENTS}`;
// Ingest inserts 10k–100k rows per table per batch, and every row of one
// insert is stamped with one ingested_at: generate the same way, so the
// export pages like it would in production.
const CHUNK = 100_000;
const START_MS = Date.parse("2026-10-04T00:00:00.000Z");
const SPAN_MS = 30 * 24 * 3_600_000;

mkdirSync(DIRECTORY, { recursive: true });
const clickhouse = createClickHouse(`chdb:${DIRECTORY}`);
await migrate(clickhouse);

async function scalar(query: string): Promise<string> {
  const result = await clickhouse.query({ query, format: "JSONEachRow" });
  const [row] = await result.json<Record<string, string>>();
  return String(Object.values(row ?? {})[0]);
}

const lines: string[] = [];
function report(line: string) {
  lines.push(line);
  console.log(line);
}

// --- Data -------------------------------------------------------------------

// Deterministic columns from hashes of the row number, so a run reproduces.
const HASHES = Array.from(
  { length: 12 },
  (_, index) => `cityHash64(number, ${index + 1}) AS h${index + 1}`,
).join(", ");
const VENDORS = "['openai', 'anthropic', 'gemini', 'mistral', 'deepseek', 'qwen']";
const TASKS =
  "['code', 'general', 'extraction', 'summarize', 'translate', 'classify', 'chat', 'rag', 'agent', 'vision', 'sql', 'email']";

// Events reach ingest roughly in time order, as a gateway emits them: row n
// occurred at n / total of the 30 days, within a minute, except one in a
// hundred that arrives late by up to three days (an outbox drained after an
// outage).
const occurredAtMs = `toInt64(${START_MS} + intDiv(number * ${SPAN_MS}, ${TOTAL_EVENTS}) + h1 % 60000
  - if(h9 % 100 = 0, h1 % ${3 * 24 * 3_600_000}, 0))`;

async function generate(offset: number, count: number) {
  const source = `(SELECT number, ${HASHES} FROM numbers(${offset}, ${count}))`;
  await clickhouse.command({
    query: `
      INSERT INTO switchboard.request_completed
        (event_id, schema_version, occurred_at, tenant_id, request_id, task, request_model, vendor,
         model, response_model, attempts, streamed, status, http_status, error_class, input_tokens,
         output_tokens, cached_input_tokens, cost_usd, price_card_version, latency_ms, ttft_ms)
      SELECT generateUUIDv7(number), 1,
        fromUnixTimestamp64Milli(${occurredAtMs}, 'UTC'),
        concat('tenant-', toString(h2 % 20)),
        concat('bench-', toString(number)),
        arrayElement(${TASKS}, 1 + h3 % 12),
        'fast',
        arrayElement(${VENDORS}, 1 + h4 % 6) AS vendor_name,
        concat(vendor_name, if(h5 % 3 = 0, '-large', '-small')) AS model_name,
        model_name,
        if(h7 % 100 < 8, 2, 1),
        h12 % 2 = 0,
        if(h6 % 100 < 97, 'success', 'error') AS outcome,
        if(outcome = 'success', 200, 502),
        if(outcome = 'success', NULL, 'server_error'),
        50 + h8 % 4000 AS input,
        10 + h10 % 1500 AS output,
        if(h9 % 4 = 0, intDiv(input, 2), 0),
        toDecimal128(input * 150 + output * 600, 18) / 1000000000,
        'bench-1',
        toUInt32(100 + (h11 % 1000) * (h11 % 1000) / 100),
        if(h12 % 10 < 3, NULL, toUInt32(20 + h12 % 800))
      FROM ${source}`,
  });
  await clickhouse.command({
    query: `
      INSERT INTO switchboard.attempt_failed
        (event_id, schema_version, occurred_at, tenant_id, request_id, task, request_model, vendor,
         model, attempt, streamed, error_class, http_status, latency_ms)
      SELECT generateUUIDv7(number), 1,
        fromUnixTimestamp64Milli(${occurredAtMs} - 1, 'UTC'),
        concat('tenant-', toString(h2 % 20)), concat('bench-', toString(number)),
        arrayElement(${TASKS}, 1 + h3 % 12), 'fast',
        arrayElement(${VENDORS}, 1 + (h4 + 1) % 6) AS vendor_name, concat(vendor_name, '-small'),
        1, false, 'server_error', 503, toUInt32(20 + h11 % 300)
      FROM ${source} WHERE h7 % 100 < 8`,
  });
  // One request in a hundred has a thumbs up or down; one in two hundred a
  // 0–5 relevance. Each score carries its request as the gateway stamps it
  // (quality_scored v2): the same time, task, vendor and model as above.
  await clickhouse.command({
    query: `
      INSERT INTO switchboard.quality_scored
        (event_id, schema_version, occurred_at, tenant_id, request_id, request_occurred_at, task,
         vendor, model, metric, value, source, gold_set_name, gold_set_version, comment)
      SELECT generateUUIDv7(number), 2,
        fromUnixTimestamp64Milli(${occurredAtMs} + 60000, 'UTC'),
        concat('tenant-', toString(h2 % 20)), concat('bench-', toString(number)),
        fromUnixTimestamp64Milli(${occurredAtMs}, 'UTC'),
        arrayElement(${TASKS}, 1 + h3 % 12),
        arrayElement(${VENDORS}, 1 + h4 % 6) AS vendor_name,
        concat(vendor_name, if(h5 % 3 = 0, '-large', '-small')),
        if(number % 100 = 0, 'helpful', 'relevance'),
        CAST(tuple(
            if(number % 100 = 0, 'boolean', 'number'),
            if(number % 100 = 0, toNullable(h6 % 10 < 8), NULL),
            if(number % 100 = 0, NULL, toNullable(toFloat64(h8 % 6))),
            if(number % 100 = 0, NULL, toNullable(0.)),
            if(number % 100 = 0, NULL, toNullable(5.)),
            CAST(NULL AS Nullable(String))),
          'Tuple(type LowCardinality(String), boolean Nullable(Bool), number Nullable(Float64), minimum Nullable(Float64), maximum Nullable(Float64), category Nullable(String))'),
        if(number % 100 = 0, 'human', 'eval'), NULL, NULL, NULL
      FROM ${source} WHERE number % 100 = 0 OR number % 200 = 1`,
  });
}

const existing = Number(await scalar("SELECT count() FROM switchboard.request_completed"));
if (existing < TOTAL_EVENTS) {
  const started = performance.now();
  for (let offset = existing; offset < TOTAL_EVENTS; offset += CHUNK) {
    const count = Math.min(CHUNK, TOTAL_EVENTS - offset);
    const chunkStarted = performance.now();
    await generate(offset, count);
    if ((offset + count) % 5_000_000 === 0) {
      console.error(
        `generated ${offset + count} requests (${Math.round(count / ((performance.now() - chunkStarted) / 1000))} rows/s)`,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  report(
    `- generated ${(TOTAL_EVENTS - existing).toLocaleString("en")} requests (+8% failed attempts, +1.5% scores) through the rollup's views in ${seconds.toFixed(0)} s (${Math.round((TOTAL_EVENTS - existing) / seconds).toLocaleString("en")} requests/s)`,
  );
}
const counts = {
  requests: await scalar("SELECT count() FROM switchboard.request_completed"),
  attempts: await scalar("SELECT count() FROM switchboard.attempt_failed"),
  scores: await scalar("SELECT count() FROM switchboard.quality_scored"),
  rollupRows: await scalar("SELECT count() FROM switchboard.usage_hourly"),
};
report(
  `- data: ${Number(counts.requests).toLocaleString("en")} requests, ${Number(counts.attempts).toLocaleString("en")} failed attempts, ${Number(counts.scores).toLocaleString("en")} scores; usage_hourly holds ${Number(counts.rollupRows).toLocaleString("en")} rows (parts not yet merged included)`,
);

// --- Matrix -----------------------------------------------------------------

// BENCH_ONLY=matrix or BENCH_ONLY=export runs one half, on data already
// generated; BENCH_ONLY=generate only generates.
const ONLY = process.env.BENCH_ONLY;

const app = buildAnalytics({ clickhouse, logger: pino({ level: "silent" }) });
// The data's 30 days and the late events before them, entered a little off
// the hour so both edges read raw events.
const WINDOW = "from=2026-10-01T00:17:00Z&to=2026-11-02T23:41:00Z";

function percentile(sorted: number[], level: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(level * sorted.length) - 1)] as number;
}

async function timeMatrix(label: string, query: string, runs: number, path = "/v1/matrix") {
  const times: number[] = [];
  let rows = 0;
  const warmUps = runs > 1 ? 2 : 0;
  for (let run = 0; run < runs + warmUps; run += 1) {
    const started = performance.now();
    const response = await app.inject(`${path}?${WINDOW}&${query}`);
    const elapsed = performance.now() - started;
    if (response.statusCode !== 200) throw new Error(`${label}: ${response.body}`);
    rows = path === "/v1/matrix" ? response.json().rows.length : response.body.length;
    if (run >= warmUps) times.push(elapsed);
  }
  times.sort((a, b) => a - b);
  report(
    `| ${label} | \`${query}\` | ${rows} | ${runs} | ${percentile(times, 0.5).toFixed(0)} | ${percentile(times, 0.95).toFixed(0)} |`,
  );
}

if (ONLY === undefined || ONLY === "matrix") {
  report("");
  report("| matrix | parameters | rows | calls | p50 ms | p95 ms |");
  report("| --- | --- | --- | --- | --- | --- |");
  // Every metric but quality (measured apart below).
  const ROLLUP_METRICS = `metrics=${METRICS.filter((metric) => metric !== "quality").join(",")}`;
  await timeMatrix("vendor × task, all tenants", `group_by=vendor,task&${ROLLUP_METRICS}`, 20);
  await timeMatrix(
    "day × vendor × model, all tenants",
    `group_by=day,vendor,model&${ROLLUP_METRICS}`,
    20,
  );
  await timeMatrix(
    "one tenant, model × task",
    `tenant=tenant-3&group_by=model,task&${ROLLUP_METRICS}`,
    20,
  );
  await timeMatrix(
    "tenant × vendor (rollups by tenant, vendor and model, 0012)",
    `group_by=tenant,vendor&${ROLLUP_METRICS}`,
    20,
  );
  await timeMatrix("the skeleton's default row", "group_by=vendor,task", 20);
  await timeMatrix(
    "counts and money only",
    "group_by=vendor,task&metrics=requests,cost_usd,share_of_spend,cost_per_success_usd",
    20,
  );
  await timeMatrix(
    "exact quantiles (raw, FINAL)",
    `group_by=vendor,task&${ROLLUP_METRICS}&quantile_method=exact`,
    1,
  );
  // Quality from its hourly rollup (0011) and the edges' raw scores.
  await timeMatrix(
    "quality, vendor × task, all tenants",
    "group_by=vendor,task&metrics=quality",
    20,
  );
  await timeMatrix(
    "quality, one tenant, model × task",
    "tenant=tenant-3&group_by=model,task&metrics=quality",
    20,
  );
  await timeMatrix("quality, tenant × vendor", "group_by=tenant,vendor&metrics=quality", 20);
  await timeMatrix(
    "every metric with quality, vendor × task",
    "group_by=vendor,task&metrics=all",
    20,
  );
  // The vendor brief: three matrices (by day, by candidate with quality, by
  // vendor) and the failed attempts; "rows" here is the answer's length in characters.
  await timeMatrix("vendor brief, JSON", "format=json", 10, "/v1/vendors/openai/brief");
  await timeMatrix("vendor brief, printable HTML", "format=html", 10, "/v1/vendors/openai/brief");
  // By key the rollup cannot answer: every raw score of the window, with FINAL.
  await timeMatrix("quality by key (raw scores)", "group_by=key&metrics=quality", 1);

  // Reference: the same vendor × task figures straight from the rollup, no edges, no API.
  {
    const times: number[] = [];
    for (let run = 0; run < 7; run += 1) {
      const started = performance.now();
      await scalar(`SELECT count() FROM (SELECT vendor, task, countMerge(requests), sumMerge(cost_usd),
      quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_ms_quantiles) FROM switchboard.usage_daily_all_tenants GROUP BY vendor, task)`);
      if (run >= 2) times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    report(
      `| reference: the engine alone, daily all-tenants rollup | vendor × task, latency only, whole table | 72 | 5 | ${percentile(times, 0.5).toFixed(0)} | ${percentile(times, 0.95).toFixed(0)} |`,
    );
  }
}

// --- Arrow export -------------------------------------------------------------

const EXPORT_ROWS = Number(process.env.BENCH_EXPORT_ROWS ?? Math.min(10_000_000, TOTAL_EVENTS));
const server = buildAnalytics({ clickhouse, logger: pino({ level: "silent" }) });
await server.listen({ host: "127.0.0.1", port: 0 });
const port = (server.server.address() as AddressInfo).port;

// The process's resident memory at its highest during an export, sampled,
// against what it held before: the pages in flight, the engine's working set
// and what the collector has not yet freed.
let rssPeak = 0;
const rssSampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
}, 20);
rssSampler.unref();

async function timeExport(decode: boolean) {
  const rssBefore = process.memoryUsage.rss();
  rssPeak = rssBefore;
  const started = performance.now();
  const response = await request(
    `http://127.0.0.1:${port}/v1/export/requests?format=arrow&limit=${EXPORT_ROWS}`,
  );
  let bytes = 0;
  let rows = 0;
  // apache-arrow destroys the body when it has read the end-of-stream marker.
  response.body.on("error", () => {});
  if (decode) {
    const reader = await RecordBatchReader.from(response.body);
    for await (const batch of reader) rows += batch.numRows;
  } else {
    for await (const chunk of response.body) bytes += (chunk as Buffer).length;
  }
  const seconds = (performance.now() - started) / 1000;
  const cursor = String(response.headers["x-switchboard-next-cursor"]);
  const ingestedBefore = JSON.parse(Buffer.from(cursor, "base64url").toString()).ingested_before;
  if (!decode) {
    rows = Number(
      await scalar(
        `SELECT count() FROM switchboard.request_completed WHERE ingested_at < parseDateTime64BestEffort('${ingestedBefore}', 3, 'UTC')`,
      ),
    );
  }
  return { rows, bytes, seconds, rssMb: (rssPeak - rssBefore) / 1e6 };
}

if (ONLY === undefined || ONLY === "export") {
  report("");
  report("| Arrow export | rows | MB | seconds | rows/s | peak RSS above start, MB |");
  report("| --- | --- | --- | --- | --- | --- |");
  {
    const drained = await timeExport(false);
    report(
      `| \`/v1/export/requests?format=arrow\`, client drains bytes | ${drained.rows.toLocaleString("en")} | ${(drained.bytes / 1e6).toFixed(0)} | ${drained.seconds.toFixed(1)} | ${Math.round(drained.rows / drained.seconds).toLocaleString("en")} | ${drained.rssMb.toFixed(0)} |`,
    );
    const decoded = await timeExport(true);
    report(
      `| the same, client decodes every batch with apache-arrow (same process) | ${decoded.rows.toLocaleString("en")} | — | ${decoded.seconds.toFixed(1)} | ${Math.round(decoded.rows / decoded.seconds).toLocaleString("en")} | ${decoded.rssMb.toFixed(0)} |`,
    );
  }
  // Reference: the engine alone writing the same columns as one ArrowStream, no paging, no HTTP.
  {
    const started = performance.now();
    const { stream } = await clickhouse.exec({
      query: `SELECT toString(event_id) AS event_id, schema_version, occurred_at, ingested_at, tenant_id,
              request_id, task, request_model, vendor, model, response_model, attempts, streamed, status,
              http_status, error_class, input_tokens, cached_input_tokens, output_tokens, cost_usd,
              price_card_version, latency_ms, ttft_ms
            FROM switchboard.request_completed LIMIT 1000000
            FORMAT ArrowStream SETTINGS output_format_arrow_compression_method='none'`,
    });
    let bytes = 0;
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    const seconds = (performance.now() - started) / 1000;
    report(
      `| reference: the engine alone, 1,000,000 rows in one ArrowStream | 1,000,000 | ${(bytes / 1e6).toFixed(0)} | ${seconds.toFixed(2)} | ${Math.round(1_000_000 / seconds).toLocaleString("en")} | — |`,
    );
  }
  // Reference: the export's own columns and Arrow settings, one query over the
  // first million rows in table order: the engine's share without paging by
  // ingest time (which reads granules shared with other pages), sorting or HTTP.
  {
    const { EXPORT_DATASETS } = await import("../analytics/export/datasets.ts");
    const { EXPORT_FORMATS } = await import("../analytics/export/formats.ts");
    const started = performance.now();
    const { stream } = await clickhouse.exec({
      query: `SELECT ${EXPORT_DATASETS.requests.columns}
            FROM switchboard.request_completed LIMIT 1000000
            FORMAT ArrowStream SETTINGS ${EXPORT_FORMATS.arrow.settings}`,
    });
    let bytes = 0;
    for await (const chunk of stream) bytes += (chunk as Buffer).length;
    const seconds = (performance.now() - started) / 1000;
    report(
      `| reference: the engine alone, the export's columns and Arrow settings, 1,000,000 rows | 1,000,000 | ${(bytes / 1e6).toFixed(0)} | ${seconds.toFixed(2)} | ${Math.round(1_000_000 / seconds).toLocaleString("en")} | — |`,
    );
  }
}

await server.close();
await app.close();
await clickhouse.close();
