// Times relative to now (`from=-1h`) on every endpoint that takes a time, so
// a saved query or a README example keeps meaning "the last hour".
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { DEMO_ANALYTICS_TOKEN } from "./access.ts";
import { buildAnalytics } from "./app.ts";
import { parseTime } from "./parameters.ts";

// ajv-formats is CommonJS: its default export is the module object under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const HOUR = 3_600_000;
const NOW = Date.parse("2026-12-06T12:00:00Z");

describe("parseTime", () => {
  it("reads -<n><unit> as that long before now: minutes, hours, days, weeks", () => {
    expect(parseTime("-30m", NOW).toISOString()).toBe("2026-12-06T11:30:00.000Z");
    expect(parseTime("-1h", NOW).toISOString()).toBe("2026-12-06T11:00:00.000Z");
    expect(parseTime("-7d", NOW).toISOString()).toBe("2026-11-29T12:00:00.000Z");
    expect(parseTime("-2w", NOW).toISOString()).toBe("2026-11-22T12:00:00.000Z");
  });

  it("reads anything else as an ISO-8601 time", () => {
    expect(parseTime("2026-11-01T00:00:00+01:00", NOW).toISOString()).toBe(
      "2026-10-31T23:00:00.000Z",
    );
  });
});

let clickhouse: TestClickHouse;
let app: FastifyInstance;
const authorization = { authorization: `Bearer ${DEMO_ANALYTICS_TOKEN}` };

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    // A vendor with a target has a brief even with no traffic stored.
    slo: { default: {}, targets: [{ vendor: "sim-alpha" }] },
  });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

describe("relative times on the API", () => {
  it("the matrix's window: from=-1h is the last hour, to=-1h an hour ago", async () => {
    const before = Date.now();
    const response = await app.inject({
      url: "/v1/matrix?from=-2h&to=-1h",
      headers: authorization,
    });
    const after = Date.now();
    expect(response.statusCode, response.body).toBe(200);
    const { from, to } = response.json() as { from: string; to: string };
    expect(Date.parse(from)).toBeGreaterThanOrEqual(before - 2 * HOUR);
    expect(Date.parse(from)).toBeLessThanOrEqual(after - 2 * HOUR);
    expect(Date.parse(to)).toBeGreaterThanOrEqual(before - HOUR);
    expect(Date.parse(to)).toBeLessThanOrEqual(after - HOUR);
  });

  it("are taken by the vendor brief, the exports and the what-if body", async () => {
    for (const url of [
      "/v1/vendors/sim-alpha/brief?from=-7d",
      "/v1/export/requests?from=-1h",
      "/v1/export/focus?format=csv&from=-30m&to=-1m",
    ]) {
      const response = await app.inject({ url, headers: authorization });
      expect(response.statusCode, `${url}: ${response.body.slice(0, 300)}`).toBe(200);
    }
    const whatif = await app.inject({
      method: "POST",
      url: "/v1/whatif",
      headers: authorization,
      payload: {
        from: "-1d",
        moves: [
          {
            task: "general",
            from: { vendor: "sim-alpha", model: "sim-small" },
            to: { vendor: "sim-beta", model: "sim-small" },
          },
        ],
      },
    });
    expect(whatif.statusCode, whatif.body).toBe(200);
  });

  it("anything else answers 400 naming the field and both forms", async () => {
    for (const value of ["-1y", "1h", "-0h", "yesterday", "-1000000w"]) {
      const response = await app.inject({
        url: `/v1/matrix?from=${value}`,
        headers: authorization,
      });
      expect(response.statusCode, value).toBe(400);
      expect(response.json().error).toMatchObject({ code: "invalid_parameter", field: "from" });
      expect(response.json().error.message, value).toMatch(/2026-11-01T00:00:00Z|-1h/);
    }
  });

  it("the OpenAPI schema of `from` takes both forms", async () => {
    const document = (await app.inject("/openapi.json")).json();
    const parameter = (
      document.paths["/v1/matrix"].get.parameters as { name: string; schema: object }[]
    ).find((each) => each.name === "from");
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(parameter?.schema ?? {});
    expect(validate("2026-11-01T00:00:00Z")).toBe(true);
    expect(validate("-1h")).toBe(true);
    expect(validate("1h")).toBe(false);
  });
});
