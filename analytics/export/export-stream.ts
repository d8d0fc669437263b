// Streams one export response: plans pages in ingest time up to a settled
// horizon, then runs one bounded query per page and writes its bytes before
// asking for the next, so memory holds about one page whatever the size.
import type { ClickHouseClient } from "../../clickhouse/client.ts";
import type { TenantScope } from "../access.ts";
import { isTextType, neutraliseCellSql } from "../csv-injection.ts";
import { type ExportCursor, encodeCursor } from "./cursor.ts";
import {
  EXPORT_DATASETS,
  type ExportContext,
  type ExportDataset,
  type ExportDatasetName,
} from "./datasets.ts";
import { ArrowStreamJoiner, EXPORT_FORMATS, type ExportFormat } from "./formats.ts";
import { type Page, planPages } from "./page-plan.ts";

export interface ExportOptions extends ExportContext {
  /** Rows per page query: one ClickHouse result; a response holds at most two in memory. */
  pageRows: number;
  /** How far behind ClickHouse's clock a response stops (see cursor.ts). */
  settleMs: number;
}

// A page's rows lie scattered through the table's (tenant, occurred_at)
// order: events that arrive late sit among older ones, so each page query
// decompresses whole granules for a few of its rows, and a page of 100,000
// requests read some nine times its rows. Neighbouring pages share those
// granules, so doubling the page about halved that, for two pages of about
// 60 MB of Arrow in memory instead of 30 MB (a dataset with wider rows caps
// its pages: see datasets.ts).
export const DEFAULT_EXPORT_OPTIONS: ExportOptions = { pageRows: 200_000, settleMs: 10_000 };

export interface ExportRequest {
  dataset: ExportDatasetName;
  format: ExportFormat;
  cursor: ExportCursor | null;
  from?: Date;
  to?: Date;
  limit?: number;
  scope: TenantScope;
}

export interface PreparedExport {
  contentType: string;
  fileName: string;
  nextCursor: string;
  /** false when more rows were ready than this response carries. */
  complete: boolean;
  rows: number;
  body: AsyncGenerator<Buffer>;
}

const MAX_EXECUTION_SECONDS = 600;

/** The WHERE clause for [start, end) in ingest time plus the caller's filters. */
function whereSql(request: ExportRequest, params: Record<string, unknown>): string {
  const clauses = [
    "ingested_at >= fromUnixTimestamp64Milli({range_start:Int64}, 'UTC')",
    "ingested_at < fromUnixTimestamp64Milli({range_end:Int64}, 'UTC')",
  ];
  if (request.from) {
    clauses.push("occurred_at >= {window_from:DateTime64(3, 'UTC')}");
    params.window_from = request.from;
  }
  if (request.to) {
    clauses.push("occurred_at < {window_to:DateTime64(3, 'UTC')}");
    params.window_to = request.to;
  }
  if (request.scope.tenants !== "all") {
    clauses.push("tenant_id IN {scope_tenants:Array(String)}");
    params.scope_tenants = request.scope.tenants;
  }
  const extra = EXPORT_DATASETS[request.dataset] as { where?: string };
  if (extra.where) clauses.push(extra.where);
  return clauses.join(" AND ");
}

async function clickhouseNowMs(clickhouse: ClickHouseClient): Promise<number> {
  const result = await clickhouse.query({
    query: "SELECT toUnixTimestamp64Milli(now64(3)) AS now",
    format: "JSONEachRow",
  });
  const [row] = await result.json<{ now: string }>();
  return Number(row?.now);
}

/**
 * The dataset's columns over its own SELECT, each text column through the
 * CSV injection rule (csv-injection.ts) and every other as it is, so numbers
 * (a negative cost) stay numbers. The types come from ClickHouse itself
 * (DESCRIBE of the dataset's SELECT), so a column added later is covered.
 * ClickHouse still writes the CSV: quoting, escaping and pages as before.
 */
async function csvSafeSelectList(
  clickhouse: ClickHouseClient,
  dataset: ExportDataset,
  datasetParams: Record<string, unknown>,
): Promise<string> {
  const result = await clickhouse.query({
    query: `DESCRIBE (SELECT ${dataset.columns} FROM ${dataset.rowsFrom ?? dataset.table})`,
    query_params: datasetParams,
    format: "JSONEachRow",
  });
  const columns = await result.json<{ name: string; type: string }>();
  return columns
    .map(({ name, type }) => {
      const column = `\`${name.replaceAll("\\", "\\\\").replaceAll("`", "\\`")}\``;
      return isTextType(type) ? `${neutraliseCellSql(column)} AS ${column}` : column;
    })
    .join(", ");
}

export async function prepareExport(
  clickhouse: ClickHouseClient,
  request: ExportRequest,
  options: ExportOptions = DEFAULT_EXPORT_OPTIONS,
): Promise<PreparedExport> {
  const dataset = EXPORT_DATASETS[request.dataset];
  const pageRows = Math.min(
    options.pageRows,
    (dataset as ExportDataset).maxPageRows ?? Number.POSITIVE_INFINITY,
  );
  const format = EXPORT_FORMATS[request.format];
  const start = request.cursor?.ingestedBefore ?? 0;
  const horizon = Math.max(start, (await clickhouseNowMs(clickhouse)) - options.settleMs);
  // A Parquet response is one file, so one page at most.
  const rowLimit =
    request.format === "parquet" ? Math.min(request.limit ?? pageRows, pageRows) : request.limit;

  const countBySlot = async (slotStartMs: number, slotEndMs: number, slotMs: number) => {
    const params: Record<string, unknown> = {
      range_start: slotStartMs,
      range_end: slotEndMs,
      slot: slotMs,
    };
    const where = whereSql(request, params);
    // No FINAL: these counts only size pages; a not-yet-merged duplicate only makes one smaller.
    const result = await clickhouse.query({
      query: `SELECT intDiv(toUnixTimestamp64Milli(ingested_at), {slot:Int64}) * {slot:Int64} AS slot_start,
                     count() AS rows
              FROM ${dataset.table}
              WHERE ${where}
              GROUP BY slot_start ORDER BY slot_start
              SETTINGS max_execution_time = ${MAX_EXECUTION_SECONDS}`,
      query_params: params,
      format: "JSONEachRow",
    });
    return (await result.json<{ slot_start: string; rows: string }>()).map((slot) => ({
      slotStart: Number(slot.slot_start),
      rows: Number(slot.rows),
    }));
  };
  const describeRange = async (rangeStartMs: number, rangeEndMs: number) => {
    const params: Record<string, unknown> = { range_start: rangeStartMs, range_end: rangeEndMs };
    const where = whereSql(request, params);
    const result = await clickhouse.query({
      query: `SELECT count() AS rows, min(toUnixTimestamp64Milli(ingested_at)) AS first,
                     max(toUnixTimestamp64Milli(ingested_at)) AS last
              FROM ${dataset.table} WHERE ${where}
              SETTINGS max_execution_time = ${MAX_EXECUTION_SECONDS}`,
      query_params: params,
      format: "JSONEachRow",
    });
    const [row] = await result.json<{ rows: string; first: string; last: string }>();
    return { rows: Number(row?.rows ?? 0), first: Number(row?.first), last: Number(row?.last) };
  };
  const plan =
    horizon > start
      ? await planPages(describeRange, countBySlot, { start, end: horizon }, pageRows, rowLimit)
      : { pages: [], end: start, complete: true };

  const rowsFrom = (dataset as ExportDataset).rowsFrom ?? dataset.table;
  const datasetParams = (dataset as ExportDataset).parameters?.(options) ?? {};
  // CSV only: the text columns neutralised against CSV injection, by type.
  const csvSelect =
    request.format === "csv"
      ? await csvSafeSelectList(clickhouse, dataset as ExportDataset, datasetParams)
      : null;

  const pageBytes = async (page: Page, clickhouseFormat: string): Promise<Buffer> => {
    const params: Record<string, unknown> = {
      ...datasetParams,
      range_start: page.start,
      range_end: page.end,
    };
    const where = whereSql(request, params);
    // No FINAL here, unlike the matrix. FINAL would collapse a duplicate into
    // its latest copy, which lies in a later page, so a row already delivered
    // would come again anyway; and it defeats the ingested_at skip index (it
    // must read every granule sharing a sorting key with the page's), which
    // made pages several times slower. Ingest never stores an event_id twice;
    // event_id is in every row for a warehouse that wants a second guard.
    // Within a page, rows go in ingest order; across pages the ranges do.
    const rows = csvSelect
      ? `SELECT ${csvSelect}
         FROM (SELECT ${dataset.columns}, ingested_at AS export_position
               FROM ${rowsFrom}
               WHERE ${where})
         ORDER BY export_position`
      : `SELECT ${dataset.columns}
         FROM ${rowsFrom}
         WHERE ${where}
         ORDER BY ingested_at`;
    const { stream } = await clickhouse.exec({
      query: `${rows}
              FORMAT ${clickhouseFormat}
              SETTINGS ${format.settings}, max_execution_time = ${MAX_EXECUTION_SECONDS}`,
      query_params: params,
    });
    // chDB hands the whole result over at once (trap 3); a page is sized to allow it.
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    // Buffer.concat copies even a lone chunk: a page's worth of memory and time for nothing.
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  };

  // With no rows, an empty range still yields the format's header: a schema, column names.
  const pages: Page[] =
    plan.pages.length > 0 ? plan.pages : [{ start: plan.end, end: plan.end, rows: 0 }];

  // The engine runs off the main thread: while one page is written to the
  // socket, the next is already being computed. So at most two pages are in
  // memory at once.
  async function* pagesInOrder(): AsyncGenerator<Buffer> {
    const fetchPage = (index: number) =>
      pageBytes(pages[index] as Page, index === 0 ? format.firstPage : format.nextPages);
    let next: Promise<Buffer> | null = fetchPage(0);
    for (let index = 0; next !== null; index += 1) {
      const current: Buffer = await next;
      next = index + 1 < pages.length ? fetchPage(index + 1) : null;
      // A rejected prefetch must not go unhandled if the client went away first.
      next?.catch(() => {});
      yield current;
    }
  }

  async function* body(): AsyncGenerator<Buffer> {
    if (request.format !== "arrow") {
      yield* pagesInOrder();
      return;
    }
    const joiner = new ArrowStreamJoiner();
    for await (const page of pagesInOrder()) yield* joiner.page(page);
    yield joiner.end();
  }

  return {
    contentType: format.contentType,
    fileName: `${request.dataset}.${format.extension}`,
    nextCursor: encodeCursor({ dataset: request.dataset, ingestedBefore: plan.end }),
    complete: plan.complete,
    rows: plan.pages.reduce((sum, page) => sum + page.rows, 0),
    body: body(),
  };
}
