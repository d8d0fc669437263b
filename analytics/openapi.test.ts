import { Ajv2020 } from "ajv/dist/2020.js";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { buildAnalytics } from "./app.ts";
import { ANALYTICS_ENDPOINTS } from "./endpoints.ts";

let clickhouse: TestClickHouse;
let app: FastifyInstance;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
  app = buildAnalytics({ clickhouse: clickhouse.client, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

interface Operation {
  parameters: { name: string; in: string; required: boolean; schema: object }[];
  security: unknown[];
  "x-examples": string[];
}

describe("OpenAPI document and docs page", () => {
  it("lists every endpoint with every parameter its zod schema accepts", async () => {
    const document = (await app.inject("/openapi.json")).json();
    expect(document.openapi).toBe("3.1.0");
    for (const endpoint of ANALYTICS_ENDPOINTS) {
      const path = endpoint.path.replace(/:([a-z_]+)/g, "{$1}");
      const operation = document.paths[path]?.[endpoint.method.toLowerCase()] as Operation;
      expect(operation, `${endpoint.method} ${path}`).toBeDefined();
      expect(operation.parameters.map((parameter) => parameter.name).sort()).toEqual(
        [
          ...Object.keys(endpoint.pathParameters ?? {}),
          ...Object.keys(endpoint.queryParameters ?? {}),
        ].sort(),
      );
      expect(operation.security).toEqual(endpoint.authenticated ? [{ analyticsToken: [] }] : []);
    }
  });

  it("gives parameter schemas a JSON Schema validator accepts, agreeing with the API", async () => {
    const document = (await app.inject("/openapi.json")).json();
    const matrix = document.paths["/v1/matrix"].get as Operation;
    const ajv = new Ajv2020({ strict: false });
    const schemaOf = (name: string) => {
      const parameter = matrix.parameters.find((candidate) => candidate.name === name);
      if (!parameter) throw new Error(`no parameter ${name}`);
      return ajv.compile(parameter.schema);
    };
    expect(schemaOf("group_by")(["vendor", "day"])).toBe(true);
    expect(schemaOf("group_by")(["colour"])).toBe(false);
    expect(schemaOf("quantile_method")("exact")).toBe(true);
    expect(schemaOf("from")("2026-11-01T00:00:00Z")).toBe(true);
  });

  it("renders a page with every endpoint, parameter and example", async () => {
    const response = await app.inject("/docs");
    expect(response.headers["content-type"]).toMatch(/^text\/html/);
    for (const endpoint of ANALYTICS_ENDPOINTS) {
      expect(response.body).toContain(endpoint.path.replace(/:([a-z_]+)/g, "{$1}"));
      for (const name of Object.keys(endpoint.queryParameters ?? {})) {
        expect(response.body).toContain(`<code>${name}</code>`);
      }
      for (const example of endpoint.examples) {
        expect(response.body).toContain(
          example
            .replaceAll("&", "&amp;")
            .replaceAll("<", "&lt;")
            .replaceAll(">", "&gt;")
            .replaceAll('"', "&quot;"),
        );
      }
    }
  });
});
