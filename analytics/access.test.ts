import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tableFromIPC } from "apache-arrow";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../cli/config.ts";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { HAND_LEDGER_WINDOW, handLedger } from "../test/fixtures/hand-ledger.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { DEMO_ANALYTICS_TOKEN } from "./access.ts";
import { buildAnalytics } from "./app.ts";
import { ANALYTICS_ENDPOINTS } from "./endpoints.ts";

const TOKENS = {
  admin: "sat-admin-test",
  globex: "sat-globex-test",
  // A tenant with no traffic at all: whatever it sees must be nothing.
  initech: "sat-initech-test",
};

let clickhouse: TestClickHouse;
let app: FastifyInstance;

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  // acme owns almost all of the ledger; globex one request and one score.
  await loadEvents(clickhouse.client, handLedger());
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    exportOptions: { pageRows: 2, settleMs: 0 },
    tokens: [
      { id: "admin", sha256: sha256(TOKENS.admin), admin: true },
      { id: "globex", sha256: sha256(TOKENS.globex), tenants: ["globex"] },
      { id: "initech", sha256: sha256(TOKENS.initech), tenants: ["initech"] },
    ],
  });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

function get(url: string, token?: string) {
  return app.inject({
    url,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

/** Every matrix parameter, each at least once, as a tenant-A caller would try them. */
const MATRIX_QUERIES = [
  "",
  "group_by=tenant",
  "group_by=vendor,model,task,tenant",
  "group_by=hour",
  "group_by=day,vendor",
  "group_by=week",
  "group_by=month,task",
  "vendor=alpha,beta,gamma",
  "model=m1&model=m2",
  "task=code,general",
  "metrics=all",
  "metrics=all&quantile_method=exact",
  "metrics=quality&quality_source=human,eval,heuristic",
  "group_by=tenant&metrics=all&quantile_method=t-digest",
].map((query) => `/v1/matrix?${HAND_LEDGER_WINDOW}&${query}`);

/** The brief in every format and with each of its parameters. */
const BRIEF_QUERIES = [
  ...["json", "md", "csv", "html"].map((format) => `format=${format}`),
  "quality_metric=helpful&quality_floor=0.5",
  "slo_availability=0.9&slo_ttft_p95_ms=100&slo_error_rate=0.1",
].flatMap((query) =>
  ["alpha", "beta", "gamma"].map(
    (vendor) => `/v1/vendors/${vendor}/brief?${HAND_LEDGER_WINDOW}&${query}`,
  ),
);

/** Every export dataset in every text format, and each export parameter. */
const EXPORT_QUERIES = [
  ...["requests", "attempts", "decisions", "quality", "focus"].flatMap((dataset) =>
    ["ndjson", "csv"].map((format) => `/v1/export/${dataset}?format=${format}`),
  ),
  "/v1/export/requests?format=ndjson&from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z",
  "/v1/export/quality?format=ndjson&limit=1",
  "/v1/export/focus?format=ndjson&cursor=eyJkYXRhc2V0IjoiZm9jdXMiLCJpbmdlc3RlZF9iZWZvcmUiOiIxOTcwLTAxLTAxVDAwOjAwOjAwLjAwMFoifQ",
];

function dataLines(body: string): string[] {
  return body.split("\n").filter((line) => line !== "");
}

describe("analytics access", () => {
  it.each([
    ["no token", undefined],
    ["an unknown token", "sat-nobody"],
    ["a gateway key", "sk-switchboard-demo"],
  ])("refuses %s with 401 on every authenticated endpoint", async (_, token) => {
    for (const url of [
      `/v1/matrix?${HAND_LEDGER_WINDOW}`,
      "/v1/export/requests",
      "/v1/whatif",
      "/v1/vendors/alpha/brief",
    ]) {
      const response = await app.inject({
        method: url === "/v1/whatif" ? "POST" : "GET",
        url,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({
        error: { code: "invalid_token", message: expect.any(String) },
      });
    }
  });

  it("lets anyone read the docs, the OpenAPI document and health", async () => {
    for (const endpoint of ANALYTICS_ENDPOINTS.filter((candidate) => !candidate.authenticated)) {
      expect((await get(endpoint.path)).statusCode, endpoint.path).toBe(200);
    }
  });

  it.each(MATRIX_QUERIES)("a token for a tenant with no traffic sees nothing: %s", async (url) => {
    const response = await get(url, TOKENS.initech);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().rows).toEqual([]);
  });

  it.each(MATRIX_QUERIES)("a token for globex sees exactly globex's data: %s", async (url) => {
    const scoped = await get(url, TOKENS.globex);
    const asAdmin = await get(`${url}&tenant=globex`, TOKENS.admin);
    expect(scoped.statusCode, scoped.body).toBe(200);
    expect(scoped.json()).toEqual(asAdmin.json());
    // Nothing of acme's: not its tenant id, vendor beta, task general, nor any of its costs.
    expect(scoped.body).not.toMatch(/acme|beta|general|"0\.3"|"1\.5"|casual|formal|relevance/);
  });

  it.each(EXPORT_QUERIES)(
    "a token for a tenant with no traffic exports nothing: %s",
    async (url) => {
      const response = await get(url, TOKENS.initech);
      expect(response.statusCode, response.body).toBe(200);
      // Nothing but a CSV header.
      expect(dataLines(response.body).length).toBeLessThanOrEqual(url.includes("csv") ? 1 : 0);
    },
  );

  it.each(EXPORT_QUERIES)("a token for globex exports exactly globex's rows: %s", async (url) => {
    const scoped = await get(url, TOKENS.globex);
    const asAdmin = await get(`${url}&tenant=globex`, TOKENS.admin);
    expect(scoped.statusCode, scoped.body).toBe(200);
    expect(scoped.body).toBe(asAdmin.body);
    expect(scoped.body).not.toMatch(/acme/);
  });

  it.each(BRIEF_QUERIES)("a brief for a tenant with no traffic holds nothing: %s", async (url) => {
    const response = await get(url.replace(/format=\w+/, "format=json"), TOKENS.initech);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({
      spend_usd: "0",
      requests: 0,
      tasks: [],
      failover_incidents: [],
    });
  });

  it.each(BRIEF_QUERIES)("a brief for globex holds exactly globex's data: %s", async (url) => {
    const scoped = await get(url, TOKENS.globex);
    const asAdmin = await get(`${url}&tenant=globex`, TOKENS.admin);
    expect(scoped.statusCode, scoped.body).toBe(200);
    // The window's default end moves with the clock, but this one is fixed: bodies match.
    expect(scoped.body).toBe(asAdmin.body);
    expect(scoped.body).not.toMatch(/acme|0\.15|beta\/m2/);
  });

  it("an Arrow export for globex holds only globex's rows", async () => {
    const response = await get("/v1/export/requests?format=arrow", TOKENS.globex);
    const table = tableFromIPC(response.rawPayload);
    expect(table.numRows).toBe(1);
    expect(table.getChild("tenant_id")?.get(0)).toBe("globex");
  });

  it("a what-if for globex sees exactly globex's traffic, and nothing for a tenant without", async () => {
    const move = {
      task: "code",
      from: { vendor: "alpha", model: "m1" },
      to: { vendor: "beta", model: "m2" },
    };
    const post = (token: string, body: object) =>
      app.inject({
        method: "POST",
        url: "/v1/whatif",
        headers: { authorization: `Bearer ${token}` },
        payload: {
          from: "2026-11-20T00:00:00Z",
          to: "2026-11-22T00:00:00Z",
          moves: [move],
          ...body,
        },
      });
    const scoped = await post(TOKENS.globex, {});
    const asAdmin = await post(TOKENS.admin, { tenant: ["globex"] });
    expect(scoped.statusCode, scoped.body).toBe(200);
    expect(scoped.json()).toEqual(asAdmin.json());
    expect(scoped.json().baseline).toEqual({ requests: 1, cost_usd: "5" });
    expect(scoped.body).not.toMatch(/acme|relevance|tone/);
    const nothing = (await post(TOKENS.initech, {})).json();
    expect(nothing.baseline).toEqual({ requests: 0, cost_usd: "0" });
    expect(nothing.moves[0].observed.requests).toBe(0);
    const forbidden = await post(TOKENS.globex, { tenant: ["acme"] });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({
      error: { code: "forbidden_tenant", field: "tenant" },
    });
  });

  it("the admin sees both tenants", async () => {
    const response = await get(
      `/v1/matrix?${HAND_LEDGER_WINDOW}&group_by=tenant&metrics=cost_usd`,
      TOKENS.admin,
    );
    expect(response.json().rows).toEqual([
      { tenant: "acme", cost_usd: "1.800000000000000001" },
      { tenant: "globex", cost_usd: "5" },
    ]);
  });

  it.each(
    ["tenant=acme", "tenant=globex,acme", "tenant=globex&tenant=acme"].flatMap((query) => [
      `/v1/matrix?${HAND_LEDGER_WINDOW}&${query}`,
      `/v1/export/requests?${query}`,
      `/v1/vendors/alpha/brief?${query}`,
    ]),
  )("naming a tenant outside the token's answers 403 naming the field: %s", async (url) => {
    const response = await get(url, TOKENS.globex);
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({
      error: { code: "forbidden_tenant", field: "tenant", message: expect.any(String) },
    });
  });

  it("the demo config carries the demo admin token, and a bad token config names the field", () => {
    const config = loadConfig("config/switchboard.yaml", {});
    expect(config.analytics.tokens).toEqual([
      { id: "demo-admin", admin: true, sha256: sha256(DEMO_ANALYTICS_TOKEN) },
    ]);
    const directory = mkdtempSync(join(tmpdir(), "analytics-config-"));
    const path = join(directory, "bad.yaml");
    writeFileSync(
      path,
      [
        "gateway:",
        "  price_catalog: prices.yaml",
        `  api_keys: [{ id: k, tenant: t, sha256: ${"a".repeat(64)} }]`,
        "  vendors: []",
        "  routes: []",
        "analytics:",
        `  tokens: [{ id: both, admin: true, tenants: [acme], sha256: ${"b".repeat(64)} }]`,
      ].join("\n"),
    );
    expect(() => loadConfig(path, {})).toThrow(
      /analytics\.tokens\.0\.tenants: give either tenants or admin/,
    );
  });
});
