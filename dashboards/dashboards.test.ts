import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { LogRecord } from "../eventlog/ports.ts";
import type {
  AttemptFailed,
  QualityScored,
  RequestCompleted,
  SwitchboardEvent,
} from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import { EventLoader } from "../ingest/loader.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import {
  sampleAttemptFailed,
  sampleQualityScored,
  sampleRequestCompleted,
  scoredRequestOf,
} from "../test/fixtures/sample-events.ts";
import {
  ALL_VALUES,
  expandGrafanaMacros,
  type TemplateVariables,
  type TimeRange,
} from "./macros.ts";

const DATASOURCE_TYPE = "grafana-clickhouse-datasource";
const PROVISIONED_DATASOURCE_UID = "switchboard-clickhouse";
const DASHBOARD_DIRECTORY = fileURLToPath(new URL(".", import.meta.url));

// --- The dashboard files, as far as these tests read them ---------------------

interface DatasourceReference {
  type?: string;
  uid?: string;
}

interface PanelTarget {
  refId?: string;
  datasource?: DatasourceReference;
  editorType?: string;
  rawSql?: string;
  format?: number;
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  datasource?: DatasourceReference;
  targets?: PanelTarget[];
  /** A collapsed row keeps its panels here. */
  panels?: Panel[];
}

interface DashboardVariable {
  name: string;
  type: string;
  query?: unknown;
  multi?: boolean;
  includeAll?: boolean;
  datasource?: DatasourceReference;
  current?: { value?: string | string[] };
}

interface Dashboard {
  uid?: string;
  title?: string;
  panels?: Panel[];
  templating?: { list?: DashboardVariable[] };
}

interface DashboardFile {
  file: string;
  dashboard: Dashboard;
}

interface PanelQuery {
  file: string;
  panel: Panel;
  target: PanelTarget;
  sql: string;
}

function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARD_DIRECTORY)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(join(DASHBOARD_DIRECTORY, file), "utf8")) as Dashboard,
    }));
}

function allPanels(panels: Panel[] = []): Panel[] {
  return panels.flatMap((panel) => [panel, ...allPanels(panel.panels)]);
}

function variableQuerySql(variable: DashboardVariable): string | undefined {
  if (variable.type !== "query") return undefined;
  if (typeof variable.query === "string") return variable.query;
  const rawSql = (variable.query as { rawSql?: unknown } | undefined)?.rawSql;
  return typeof rawSql === "string" ? rawSql : undefined;
}

const dashboards = loadDashboards();
const panelQueries: PanelQuery[] = dashboards.flatMap(({ file, dashboard }) =>
  allPanels(dashboard.panels).flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({ file, panel, target, sql: target.rawSql ?? "" })),
  ),
);
const variableQueries = dashboards.flatMap(({ file, dashboard }) =>
  (dashboard.templating?.list ?? []).flatMap((variable) => {
    const sql = variableQuerySql(variable);
    return sql === undefined ? [] : [{ file, variable, sql }];
  }),
);

/**
 * Template variable values as Grafana would pass them: "All" unless chosen, and
 * an array for a multi-value variable, which is what makes the plugin quote it.
 */
function variableValues(
  dashboard: Dashboard,
  chosen: Record<string, string[]> = {},
): TemplateVariables {
  const values: Record<string, string | string[]> = {};
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type === "datasource") continue;
    const selection = chosen[variable.name];
    if (selection) {
      values[variable.name] = variable.multi ? selection : (selection[0] ?? "");
    } else if (variable.includeAll) {
      values[variable.name] = ALL_VALUES;
    } else {
      throw new Error(`variable "${variable.name}" has no All option: choose a value in the test`);
    }
  }
  return values;
}

function dashboardOf(file: string): Dashboard {
  const found = dashboards.find((candidate) => candidate.file === file);
  if (!found) throw new Error(`no dashboard file ${file}`);
  return found.dashboard;
}

// --- Hand-made events ----------------------------------------------------------

// The range a user would pick as "09:00 to 12:00": Grafana ends it on the last
// millisecond. One-hour buckets make each expected number a short sum.
const RANGE: TimeRange = {
  from: new Date("2026-11-20T09:00:00.000Z"),
  to: new Date("2026-11-20T11:59:59.999Z"),
  intervalSeconds: 3600,
};

/** A request at list prices (list = contracted) unless the overrides say otherwise. */
function completed(occurredAt: string, overrides: Partial<RequestCompleted>): RequestCompleted {
  return sampleRequestCompleted({
    occurred_at: occurredAt,
    request_id: `req_${occurredAt}`,
    list_cost_usd: overrides.cost_usd,
    ...overrides,
  });
}

function failed(occurredAt: string, overrides: Partial<AttemptFailed>): AttemptFailed {
  return sampleAttemptFailed({
    occurred_at: occurredAt,
    tenant_id: "acme",
    request_id: `req_${occurredAt}`,
    task: "summarize",
    request_model: "fast",
    vendor: "alpha",
    model: "sim-small",
    attempt: 1,
    streamed: false,
    error_class: "server_error",
    http_status: 503,
    latency_ms: 25,
    ...overrides,
  });
}

const success = { status: "success", http_status: 200, error_class: null } as const;

const EVENTS: SwitchboardEvent[] = [
  // tenant acme, vendor alpha
  completed("2026-11-20T10:05:00.000Z", {
    ...success,
    vendor: "alpha",
    task: "summarize",
    team: "search",
    contract_id: "alpha-2026",
    list_cost_usd: "0.00015",
    cost_usd: "0.000125",
    latency_ms: 120,
  }),
  completed("2026-11-20T10:40:00.000Z", {
    ...success,
    vendor: "alpha",
    task: "summarize",
    team: "search",
    cost_usd: "0.00025",
    latency_ms: 180,
  }),
  completed("2026-11-20T10:50:00.000Z", {
    vendor: "alpha",
    task: "summarize",
    team: "search",
    status: "error",
    http_status: 504,
    error_class: "timeout",
    cost_usd: "0.00001",
    latency_ms: 900,
  }),
  completed("2026-11-20T11:10:00.000Z", {
    ...success,
    vendor: "alpha",
    task: "classify",
    cost_usd: "0.000003",
    latency_ms: 40,
  }),
  // The last millisecond of the range: in with $__timeFilter_ms, out with the
  // seconds-precision $__timeFilter.
  completed("2026-11-20T11:59:59.999Z", {
    ...success,
    vendor: "alpha",
    task: "summarize",
    cost_usd: "0.000001",
    latency_ms: 60,
  }),
  // Just before the range.
  completed("2026-11-20T08:59:59.999Z", {
    ...success,
    vendor: "alpha",
    task: "summarize",
    cost_usd: "7",
    latency_ms: 5,
  }),
  // tenant acme, vendor beta; 18 decimal places that a float would not keep
  completed("2026-11-20T10:15:00.000Z", {
    ...success,
    vendor: "beta",
    task: "summarize",
    team: "ads",
    cost_usd: "0.001",
    latency_ms: 300,
  }),
  completed("2026-11-20T11:30:00.000Z", {
    ...success,
    vendor: "beta",
    task: "summarize",
    team: "ads",
    contract_id: "beta-2026",
    list_cost_usd: "0.2",
    cost_usd: "0.123456789012345678",
    latency_ms: 350,
  }),
  completed("2026-11-20T11:45:00.000Z", {
    vendor: "beta",
    task: "classify",
    team: "ads",
    price_known: false,
    status: "error",
    http_status: 429,
    error_class: "rate_limited",
    cost_usd: "0",
    latency_ms: 30,
  }),
  // No vendor was tried: counted as a request, left out of per-vendor panels.
  completed("2026-11-20T10:30:00.000Z", {
    vendor: null,
    model: null,
    response_model: null,
    attempts: 0,
    status: "error",
    http_status: 503,
    error_class: "server_error",
    cost_usd: "0",
    latency_ms: 1,
    ttft_ms: null,
  }),
  // tenant globex
  completed("2026-11-20T10:20:00.000Z", {
    ...success,
    tenant_id: "globex",
    vendor: "beta",
    task: "summarize",
    team: "search",
    cost_usd: "0.5",
    latency_ms: 250,
  }),
  // failed attempts
  failed("2026-11-20T09:00:00.000Z", { vendor: "beta" }), // first millisecond of the range
  failed("2026-11-20T10:04:59.000Z", { vendor: "alpha", error_class: "rate_limited" }),
  failed("2026-11-20T10:30:00.000Z", { vendor: "alpha", error_class: "timeout" }),
  failed("2026-11-20T10:45:00.000Z", { vendor: "beta" }),
  failed("2026-11-20T11:05:00.000Z", { vendor: "alpha" }),
  failed("2026-11-20T10:10:00.000Z", { vendor: "beta", tenant_id: "globex" }),
  failed("2026-11-20T12:00:00.000Z", { vendor: "alpha" }), // just after the range
];

/** The request of EVENTS made at that time. */
function requestAt(occurredAt: string): RequestCompleted {
  const found = EVENTS.find(
    (event): event is RequestCompleted =>
      event.event_type === "request_completed" && event.occurred_at === occurredAt,
  );
  if (!found) throw new Error(`no request at ${occurredAt} in EVENTS`);
  return found;
}

/**
 * A score of the request made at `requestOccurredAt`, given at `givenAt`: the
 * two differ so that a panel windowing by the score's time gets other numbers.
 */
function scored(
  requestOccurredAt: string,
  givenAt: string,
  overrides: Partial<QualityScored>,
): QualityScored {
  const request = requestAt(requestOccurredAt);
  return sampleQualityScored({
    occurred_at: givenAt,
    tenant_id: request.tenant_id,
    request_id: request.request_id,
    scored_request: scoredRequestOf(request),
    ...overrides,
  });
}

const helpful = (boolean: boolean) =>
  ({ metric: "helpful", value: { type: "boolean", boolean } }) as const;
const rating = (number: number, minimum = 1, maximum = 5) =>
  ({
    metric: "rating",
    source: "eval",
    value: { type: "number", number, minimum, maximum },
  }) as const;

const SCORES: QualityScored[] = [
  // alpha, helpful
  scored("2026-11-20T10:05:00.000Z", "2026-11-20T10:06:00.000Z", helpful(true)),
  scored("2026-11-20T10:40:00.000Z", "2026-11-20T10:41:00.000Z", helpful(false)),
  // Given after the range, of a request in it (in the partial hour 11:00–11:15 of a range to 11:14:59.999).
  scored("2026-11-20T11:10:00.000Z", "2026-11-20T12:30:00.000Z", helpful(true)),
  scored("2026-11-20T11:59:59.999Z", "2026-11-20T12:05:00.000Z", helpful(true)),
  // Given in the range (in the partial hour 09:30–10:00 of a range from 09:30),
  // of a request before it: false, so that windowing by the score's time shows.
  scored("2026-11-20T08:59:59.999Z", "2026-11-20T09:45:00.000Z", helpful(false)),
  // alpha, rating: two scales, never averaged together
  scored("2026-11-20T10:05:00.000Z", "2026-11-20T10:07:00.000Z", rating(4)),
  scored("2026-11-20T10:40:00.000Z", "2026-11-20T10:42:00.000Z", rating(5)),
  scored("2026-11-20T11:10:00.000Z", "2026-11-20T11:11:00.000Z", rating(3)),
  scored("2026-11-20T10:50:00.000Z", "2026-11-20T10:51:00.000Z", rating(7, 0, 10)),
  // beta
  scored("2026-11-20T10:15:00.000Z", "2026-11-20T10:20:00.000Z", helpful(true)),
  scored("2026-11-20T11:30:00.000Z", "2026-11-20T11:31:00.000Z", rating(2)),
  scored("2026-11-20T10:20:00.000Z", "2026-11-20T10:25:00.000Z", helpful(false)), // globex
  // Left out: a category, the request no vendor was tried for, and a legacy
  // score, which carries no request.
  scored("2026-11-20T11:10:00.000Z", "2026-11-20T11:12:00.000Z", {
    metric: "tone",
    value: { type: "category", category: "formal" },
  }),
  scored("2026-11-20T10:30:00.000Z", "2026-11-20T10:31:00.000Z", helpful(true)),
  scored("2026-11-20T10:50:00.000Z", "2026-11-20T10:52:00.000Z", {
    ...helpful(true),
    scored_request: null,
  }),
];

function asLogRecords(events: SwitchboardEvent[]): LogRecord[] {
  return events.map((event, offset) => ({
    topic: topicFor(event.event_type),
    partition: 0,
    offset: String(offset),
    key: event.request_id,
    value: Buffer.from(JSON.stringify(event)),
  }));
}

// --- Running panel queries ------------------------------------------------------

let clickhouse: TestClickHouse;

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  const loader = new EventLoader(clickhouse.client, new RecordingSink());
  const records = asLogRecords([...EVENTS, ...SCORES]);
  const stored = await loader.store(records);
  expect(stored.deadLetters).toBe(0);
  // Delivered twice, as the log may: panels that forget FINAL count double.
  await loader.store(records);
});

afterAll(() => clickhouse?.close());

type Row = Record<string, unknown>;

async function runPanel(
  file: string,
  title: string,
  chosen: Record<string, string[]> = {},
  range: TimeRange = RANGE,
): Promise<Row[]> {
  const dashboard = dashboardOf(file);
  const panel = allPanels(dashboard.panels).find((candidate) => candidate.title === title);
  const sql = panel?.targets?.[0]?.rawSql;
  if (!sql) throw new Error(`${file} has no panel "${title}" with a query`);
  return queryRows<Row>(
    clickhouse.client,
    expandGrafanaMacros(sql, range, variableValues(dashboard, chosen)),
  );
}

// --- The files' shape --------------------------------------------------------------

describe("dashboard files", () => {
  it("exist", () => {
    expect(dashboards.map(({ file }) => file)).toContain("procurement-overview.json");
  });

  describe.each(dashboards)("$file", ({ dashboard }) => {
    const panels = allPanels(dashboard.panels);
    const variables = dashboard.templating?.list ?? [];

    it("has a uid, a title and panels with unique ids and a place on the grid", () => {
      expect(dashboard.uid).toMatch(/^[\w-]{1,40}$/);
      expect(dashboard.title).toEqual(expect.any(String));
      expect(panels.length).toBeGreaterThan(0);
      const ids = panels.map((panel) => panel.id);
      expect(ids.every((id) => Number.isInteger(id))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
      for (const panel of panels) {
        expect(panel.gridPos, `panel "${panel.title}"`).toEqual({
          h: expect.any(Number),
          w: expect.any(Number),
          x: expect.any(Number),
          y: expect.any(Number),
        });
      }
    });

    it("queries the ClickHouse datasource, in SQL, from every target", () => {
      const datasourceVariable = variables.find((variable) => variable.type === "datasource");
      for (const panel of panels.filter((candidate) => candidate.type !== "row")) {
        const targets = panel.targets ?? [];
        expect(targets.length, `panel "${panel.title}"`).toBeGreaterThan(0);
        expect(new Set(targets.map((target) => target.refId)).size).toBe(targets.length);
        for (const target of [panel, ...targets]) {
          expect(target.datasource?.type, `panel "${panel.title}"`).toBe(DATASOURCE_TYPE);
          const uid = target.datasource?.uid;
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable reference, not a template.
          if (uid === "${datasource}") {
            expect(datasourceVariable?.query).toBe(DATASOURCE_TYPE);
          } else {
            expect(uid).toBe(PROVISIONED_DATASOURCE_UID);
          }
        }
        for (const target of targets) {
          expect(target.editorType).toBe("sql");
          expect(target.rawSql?.trim()).not.toBe("");
          expect([0, 1]).toContain(target.format);
        }
      }
    });

    it("defaults its datasource variable, if any, to the provisioned datasource", () => {
      for (const variable of variables.filter((candidate) => candidate.type === "datasource")) {
        expect(variable.current?.value).toBe(PROVISIONED_DATASOURCE_UID);
      }
    });
  });
});

describe("provisioning", () => {
  function readYaml(path: string): Record<string, unknown> {
    return parseYaml(readFileSync(join(DASHBOARD_DIRECTORY, path), "utf8"));
  }

  it("declares the ClickHouse datasource the dashboards name", () => {
    const { datasources } = readYaml("provisioning/datasources/clickhouse.yaml");
    expect(datasources).toEqual([
      expect.objectContaining({
        type: DATASOURCE_TYPE,
        uid: PROVISIONED_DATASOURCE_UID,
        jsonData: expect.objectContaining({
          host: "clickhouse",
          port: 8123,
          protocol: "http",
          defaultDatabase: "switchboard",
        }),
      }),
    ]);
  });

  it("loads dashboards from where docker-compose.yml mounts this folder", () => {
    const { providers } = readYaml("provisioning/dashboards/switchboard.yaml");
    expect(providers).toEqual([
      expect.objectContaining({
        type: "file",
        options: expect.objectContaining({ path: "/var/lib/grafana/dashboards" }),
      }),
    ]);
  });
});

// --- Every query runs ------------------------------------------------------------------

describe("every panel query runs on ClickHouse", () => {
  it.each(panelQueries)("$file: $panel.title ($target.refId)", async ({ file, target, sql }) => {
    const dashboard = dashboardOf(file);
    const selections: Record<string, string[]>[] = [{}, { tenant: ["acme"] }];
    for (const chosen of selections) {
      const rows = await queryRows<Row>(
        clickhouse.client,
        expandGrafanaMacros(sql, RANGE, variableValues(dashboard, chosen)),
      );
      if (target.format === 0) {
        // The datasource turns a long time series into wide frames only when
        // `time` comes first and ascends.
        const times = rows.map((row) => String(row.time));
        if (rows[0]) expect(Object.keys(rows[0])[0]).toBe("time");
        expect(times).toEqual([...times].sort());
      }
    }
  });

  it.each(variableQueries)("$file: variable $variable.name", async ({ variable, sql }) => {
    const rows = await queryRows<Row>(clickhouse.client, expandGrafanaMacros(sql, RANGE));
    const options = rows.map((row) => Object.values(row)[0]);
    if (variable.name === "tenant") expect(options).toEqual(["acme", "globex"]);
  });
});

// --- The numbers, against sums done by hand from EVENTS above -------------------------

describe("procurement overview numbers", () => {
  const file = "procurement-overview.json";

  it("spend per vendor: exact sums per hour, the last millisecond of the range included", async () => {
    expect(await runPanel(file, "Spend per vendor")).toEqual([
      // 0.000125 + 0.00025 + 0.00001 (a failed request is still paid for)
      { time: "2026-11-20 10:00:00", vendor: "alpha", spend_usd: "0.000385" },
      // 0.001 (acme) + 0.5 (globex)
      { time: "2026-11-20 10:00:00", vendor: "beta", spend_usd: "0.501" },
      // 0.000003 + 0.000001 at 11:59:59.999
      { time: "2026-11-20 11:00:00", vendor: "alpha", spend_usd: "0.000004" },
      // 0.123456789012345678 + 0
      { time: "2026-11-20 11:00:00", vendor: "beta", spend_usd: "0.123456789012345678" },
    ]);
  });

  it("spend per vendor for one tenant leaves the others out", async () => {
    const rows = await runPanel(file, "Spend per vendor", { tenant: ["acme"] });
    expect(rows).toContainEqual({
      time: "2026-11-20 10:00:00",
      vendor: "beta",
      spend_usd: "0.001",
    });
    expect(rows).toHaveLength(4);
  });

  it("cost per successful request by vendor × task: all spend over successes, as exact text", async () => {
    expect(await runPanel(file, "Cost per successful request by vendor × task")).toEqual([
      {
        vendor: "alpha",
        task: "classify",
        requests: "1",
        successful_requests: "1",
        spend_usd: "0.000003",
        cost_per_success_usd: "0.000003",
      },
      {
        // 0.000125 + 0.00025 + 0.00001 + 0.000001 = 0.000386 over 3 successes,
        // 0.000128666…, truncated at the 18th decimal place
        vendor: "alpha",
        task: "summarize",
        requests: "4",
        successful_requests: "3",
        spend_usd: "0.000386",
        cost_per_success_usd: "0.000128666666666666",
      },
      {
        vendor: "beta",
        task: "classify",
        requests: "1",
        successful_requests: "0",
        spend_usd: "0",
        cost_per_success_usd: null,
      },
      {
        // 0.001 + 0.123456789012345678 + 0.5 = 0.624456789012345678, over 3
        vendor: "beta",
        task: "summarize",
        requests: "3",
        successful_requests: "3",
        spend_usd: "0.624456789012345678",
        cost_per_success_usd: "0.208152263004115226",
      },
    ]);
  });

  it("failovers per vendor: failed attempts per hour, both ends of the range included", async () => {
    expect(await runPanel(file, "Failovers per vendor")).toEqual([
      { time: "2026-11-20 09:00:00", vendor: "beta", failovers: "1" },
      { time: "2026-11-20 10:00:00", vendor: "alpha", failovers: "2" },
      { time: "2026-11-20 10:00:00", vendor: "beta", failovers: "2" },
      { time: "2026-11-20 11:00:00", vendor: "alpha", failovers: "1" },
    ]);
    expect(await runPanel(file, "Failovers per vendor", { tenant: ["acme"] })).toContainEqual({
      time: "2026-11-20 10:00:00",
      vendor: "beta",
      failovers: "1",
    });
  });

  it("p95 latency by vendor: merged t-digests, which on so few values give the exact element", async () => {
    // quantileExact(0.95) would pick the sorted element at floor(0.95 × n):
    // alpha [40, 60, 120, 180, 900] → index 4; beta [30, 250, 300, 350] → index 3.
    expect(await runPanel(file, "p95 latency by vendor")).toEqual([
      { vendor: "alpha", p95_latency_ms: 900 },
      { vendor: "beta", p95_latency_ms: 350 },
    ]);
  });

  it("stat panels: total spend, requests, success rate and failovers", async () => {
    // 0.000385 + 0.000004 + 0.501 + 0.123456789012345678 + 0 (no vendor)
    expect(await runPanel(file, "Total spend (USD)")).toEqual([
      { total_spend_usd: "0.624845789012345678" },
    ]);
    // 11 requests were made; the one at 08:59:59.999 is before the range
    expect(await runPanel(file, "Requests")).toEqual([{ requests: "10" }]);
    expect(await runPanel(file, "Success rate")).toEqual([{ success_rate: 0.7 }]);
    expect(await runPanel(file, "Failovers")).toEqual([{ failovers: "6" }]);
    expect(await runPanel(file, "Requests", { tenant: ["globex"] })).toEqual([{ requests: "1" }]);
  });

  it("spend by team: contracted and list spend, exact, with the unpriced requests", async () => {
    expect(await runPanel(file, "Spend by team")).toEqual([
      // 11:10 (0.000003), 11:59:59.999 (0.000001) and the request no vendor was tried for (0).
      {
        team: "(no team)",
        requests: "3",
        contracted_spend_usd: "0.000004",
        list_spend_usd: "0.000004",
        unpriced_requests: "0",
      },
      // 0.001 + 0.123456789012345678 (list 0.2) + 0 (no price known).
      {
        team: "ads",
        requests: "3",
        contracted_spend_usd: "0.124456789012345678",
        list_spend_usd: "0.201",
        unpriced_requests: "1",
      },
      // 0.000125 (list 0.00015) + 0.00025 + 0.00001 + globex's 0.5.
      {
        team: "search",
        requests: "4",
        contracted_spend_usd: "0.500385",
        list_spend_usd: "0.50041",
        unpriced_requests: "0",
      },
    ]);
    expect(await runPanel(file, "Spend by team", { tenant: ["globex"] })).toEqual([
      {
        team: "search",
        requests: "1",
        contracted_spend_usd: "0.5",
        list_spend_usd: "0.5",
        unpriced_requests: "0",
      },
    ]);
  });

  it("list vs contracted spend: both sums per hour", async () => {
    expect(await runPanel(file, "List vs contracted spend")).toEqual([
      {
        time: "2026-11-20 10:00:00",
        // 0.00015 + 0.00025 + 0.00001 + 0.001 + 0 + 0.5
        list_spend_usd: "0.50141",
        // 0.000125 + 0.00025 + 0.00001 + 0.001 + 0 + 0.5
        contracted_spend_usd: "0.501385",
      },
      {
        time: "2026-11-20 11:00:00",
        // 0.000003 + 0.2 + 0 + 0.000001
        list_spend_usd: "0.200004",
        contracted_spend_usd: "0.123460789012345678",
      },
    ]);
  });

  it("a range not on the hour: the whole hour from the rollup, the partial hours from the raw events", async () => {
    // 09:30 to 11:14:59.999: 10:00–11:00 is a whole hour; 09:30–10:00 and
    // 11:00–11:15 are partial. In it: the six requests of 10:xx and the one at
    // 11:10; failed attempts at 10:04:59, 10:10 (globex), 10:30, 10:45 and 11:05.
    const range: TimeRange = {
      from: new Date("2026-11-20T09:30:00.000Z"),
      to: new Date("2026-11-20T11:14:59.999Z"),
      intervalSeconds: 3600,
    };
    expect(await runPanel(file, "Requests", {}, range)).toEqual([{ requests: "7" }]);
    expect(await runPanel(file, "Total spend (USD)", {}, range)).toEqual([
      { total_spend_usd: "0.501388" },
    ]);
    expect(await runPanel(file, "Failovers", {}, range)).toEqual([{ failovers: "5" }]);
    expect(await runPanel(file, "Spend per vendor", {}, range)).toEqual([
      { time: "2026-11-20 10:00:00", vendor: "alpha", spend_usd: "0.000385" },
      { time: "2026-11-20 10:00:00", vendor: "beta", spend_usd: "0.501" },
      { time: "2026-11-20 11:00:00", vendor: "alpha", spend_usd: "0.000003" },
    ]);
  });

  /** One row of the quality panel, in its column order. */
  const qualityRow = (
    vendor: string,
    metric: string,
    scale: string,
    scores: string,
    share_true: number | null,
    mean: number | null,
  ) => ({ vendor, metric, scale, scores, share_true, mean });

  it("quality by vendor: scores and means by the scored request's time, per scale", async () => {
    expect(await runPanel(file, "Quality by vendor")).toEqual([
      // 10:05 true, 10:40 false, 11:10 true (given at 12:30), 11:59:59.999 true;
      // not the request of 08:59:59.999, scored at 09:45, nor the legacy score.
      qualityRow("alpha", "helpful", "true/false", "4", 0.75, null),
      qualityRow("alpha", "rating", "0 to 10", "1", null, 7),
      // (4 + 5 + 3) / 3
      qualityRow("alpha", "rating", "1 to 5", "3", null, 4),
      // acme's true and globex's false
      qualityRow("beta", "helpful", "true/false", "2", 0.5, null),
      qualityRow("beta", "rating", "1 to 5", "1", null, 2),
    ]);
    expect(await runPanel(file, "Quality by vendor", { tenant: ["globex"] })).toEqual([
      qualityRow("beta", "helpful", "true/false", "1", 0, null),
    ]);
  });

  it("quality by vendor, ranges not on the hour: the requests' partial hours from the raw scores", async () => {
    // 09:30 to 11:14:59.999: the requests of 10:xx from the rollup, the one of
    // 11:10 from the raw scores. Out: the requests of 08:59:59.999 (scored at
    // 09:45, inside the range), 11:30 and 11:59:59.999.
    const morning: TimeRange = {
      from: new Date("2026-11-20T09:30:00.000Z"),
      to: new Date("2026-11-20T11:14:59.999Z"),
      intervalSeconds: 3600,
    };
    expect(await runPanel(file, "Quality by vendor", {}, morning)).toEqual([
      // 10:05 true, 10:40 false, 11:10 true (given at 12:30, after the range)
      qualityRow("alpha", "helpful", "true/false", "3", 2 / 3, null),
      qualityRow("alpha", "rating", "0 to 10", "1", null, 7),
      // (4 + 5 + 3 at 11:10) / 3
      qualityRow("alpha", "rating", "1 to 5", "3", null, 4),
      qualityRow("beta", "helpful", "true/false", "2", 0.5, null),
    ]);
    // 10:10 to 11:59:59.999: 10:10–11:00 from the raw scores, where globex's
    // score is, and 11:00–12:00 from the rollup. Out: the request of 10:05.
    const later: TimeRange = {
      from: new Date("2026-11-20T10:10:00.000Z"),
      to: new Date("2026-11-20T11:59:59.999Z"),
      intervalSeconds: 3600,
    };
    expect(await runPanel(file, "Quality by vendor", { tenant: ["acme"] }, later)).toEqual([
      // 10:40 false, 11:10 true, 11:59:59.999 true
      qualityRow("alpha", "helpful", "true/false", "3", 2 / 3, null),
      qualityRow("alpha", "rating", "0 to 10", "1", null, 7),
      // (5 + 3) / 2
      qualityRow("alpha", "rating", "1 to 5", "2", null, 4),
      qualityRow("beta", "helpful", "true/false", "1", 1, null),
      qualityRow("beta", "rating", "1 to 5", "1", null, 2),
    ]);
  });

  it("every panel reads an hourly rollup for whole hours", () => {
    for (const { panel, sql } of panelQueries) {
      expect(sql, `panel "${panel.title}"`).toMatch(/FROM switchboard\.(usage|quality)_hourly\b/);
    }
  });
});
