// Every mistake a client can make answers a 4xx in the API's error format,
// naming what was wrong; none is a 500, and none is a 200 that looks like an
// answer. Each case was a 500 (or a 200 of zeros) before it was fixed.
import type { FastifyInstance, InjectOptions } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { HAND_LEDGER_WINDOW, handLedger } from "../test/fixtures/hand-ledger.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { buildAnalytics } from "./app.ts";
import { ANALYTICS_BODY_LIMIT_BYTES, ANALYTICS_ERRORS } from "./errors.ts";
import { encodeCursor } from "./export/cursor.ts";
import { MAX_BODY_DEPTH } from "./json-body.ts";

let clickhouse: TestClickHouse;
let app: FastifyInstance;
/** The same ledger with analytics.slo naming a vendor that never had traffic. */
let appWithSlo: FastifyInstance;

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, handLedger());
  const logger = pino({ level: "silent" });
  app = buildAnalytics({ clickhouse: clickhouse.client, logger });
  appWithSlo = buildAnalytics({
    clickhouse: clickhouse.client,
    logger,
    slo: { default: {}, targets: [{ vendor: "delta", availability: 0.999 }] },
  });
});
afterAll(async () => {
  await app.close();
  await appWithSlo.close();
  await clickhouse.close();
});

const MOVE = {
  task: "code",
  from: { vendor: "alpha", model: "m1" },
  to: { vendor: "beta", model: "m2" },
};

/** Asserts the API's error format with this status, code and field; returns the message. */
async function expectError(
  request: InjectOptions | string,
  status: number,
  code: keyof typeof ANALYTICS_ERRORS,
  field: string,
  target = app,
): Promise<string> {
  const response = await target.inject(request);
  expect(response.statusCode, response.body.slice(0, 300)).toBe(status);
  expect(ANALYTICS_ERRORS[code].status).toBe(status);
  expect(response.json()).toEqual({ error: { code, field, message: expect.any(String) } });
  return response.json().error.message;
}

function whatIf(payload: string | Buffer, contentType = "application/json"): InjectOptions {
  return { method: "POST", url: "/v1/whatif", payload, headers: { "content-type": contentType } };
}

describe("a what-if body the API cannot read", () => {
  it("answers 400 naming body for malformed JSON, an empty body, or a __proto__ key", async () => {
    const message = await expectError(
      whatIf('{"moves": [{"task": "code",'),
      400,
      "invalid_parameter",
      "body",
    );
    // The parser's own message quotes the body; ours does not.
    expect(message).not.toContain("task");
    await expectError(whatIf(""), 400, "invalid_parameter", "body");
    await expectError(
      whatIf('{"__proto__": {"admin": true}, "moves": []}'),
      400,
      "invalid_parameter",
      "body",
    );
    await expectError(
      whatIf('{"moves": [{"constructor": {"prototype": {"admin": true}}}]}'),
      400,
      "invalid_parameter",
      "body",
    );
  });

  it("answers 415 naming content-type for text/plain and any other content type", async () => {
    for (const type of [
      "text/plain",
      "application/octet-stream",
      "application/x-www-form-urlencoded",
      "text/csv",
    ]) {
      await expectError(
        whatIf(JSON.stringify({ moves: [MOVE] }), type),
        415,
        "unsupported_media_type",
        "content-type",
      );
    }
  });

  it("answers 413 naming body for a body over the limit", async () => {
    const padding = "x".repeat(ANALYTICS_BODY_LIMIT_BYTES);
    await expectError(
      whatIf(JSON.stringify({ moves: [MOVE], padding })),
      413,
      "body_too_large",
      "body",
    );
  });

  it("answers 400 naming body for JSON nested deeper than the bound, before parsing it", async () => {
    const depth = 400_000;
    const started = performance.now();
    await expectError(
      whatIf(`{"moves":${"[".repeat(depth)}${"]".repeat(depth)}}`),
      400,
      "invalid_parameter",
      "body",
    );
    // JSON.parse alone takes about a second on this body.
    expect(performance.now() - started).toBeLessThan(500);
    // Brackets inside strings are text, not nesting.
    const bracketsInText = JSON.stringify({
      moves: [{ ...MOVE, task: "[".repeat(MAX_BODY_DEPTH + 5) }],
    });
    expect((await app.inject(whatIf(bracketsInText))).statusCode).toBe(200);
  });
});

describe("what-if figures that are not exact decimals", () => {
  it.each([
    ["1e3", "moves.0.share"],
    ["0.0000000000000000001", "moves.0.share"],
    ["0.5000000000000000000", "moves.0.share"],
    ["-0.5", "moves.0.share"],
    [" 0.5", "moves.0.share"],
    ["0x1", "moves.0.share"],
    ["Infinity", "moves.0.share"],
  ])("answers 400 naming the share for %j", async (share, field) => {
    await expectError(
      { method: "POST", url: "/v1/whatif", payload: { moves: [{ ...MOVE, share }] } },
      400,
      "invalid_parameter",
      field,
    );
  });

  it.each([
    ["an exponent", { input: "1e3", output: "1" }, "moves.0.price.input"],
    ["19 places", { input: "1", output: "0.0000000000000000001" }, "moves.0.price.output"],
    [
      "5,000 digits",
      { input: "1", cached_input: "9".repeat(5000), output: "1" },
      "moves.0.price.cached_input",
    ],
    ["21 whole digits", { input: "1".repeat(21), output: "1" }, "moves.0.price.input"],
  ])("answers 400 naming the price with %s", async (_, price, field) => {
    await expectError(
      { method: "POST", url: "/v1/whatif", payload: { moves: [{ ...MOVE, price }] } },
      400,
      "invalid_parameter",
      field,
    );
  });

  it("takes a share and prices at the bounds: 18 places, 20 whole digits", async () => {
    const response = await app.inject({
      method: "POST",
      url: "/v1/whatif",
      payload: {
        from: "2026-11-20T00:00:00Z",
        to: "2026-11-22T00:00:00Z",
        moves: [
          {
            ...MOVE,
            share: "0.000000000000000001",
            price: { input: "9".repeat(20), output: "0.000000000000000001" },
          },
        ],
      },
    });
    expect(response.statusCode, response.body).toBe(200);
  });
});

describe("times ClickHouse's DateTime64 cannot hold", () => {
  const endpoints = [
    (query: string) => `/v1/matrix?${query}`,
    (query: string) => `/v1/vendors/alpha/brief?${query}`,
    (query: string) => `/v1/export/requests?${query}`,
  ];

  it.each([
    ["from=0001-01-01T00:00:00Z", "from"],
    ["from=1899-12-31T23:59:59.999Z", "from"],
    ["to=2300-01-01T00:00:00Z", "to"],
    ["to=9999-12-31T23:59:59Z", "to"],
  ])("answers 400 naming the field on every endpoint for %s", async (query, field) => {
    for (const url of endpoints) {
      const message = await expectError(url(query), 400, "invalid_parameter", field);
      expect(message).toContain("1900-01-01");
    }
    await expectError(
      {
        method: "POST",
        url: "/v1/whatif",
        payload: { ...Object.fromEntries(new URLSearchParams(query)), moves: [MOVE] },
      },
      400,
      "invalid_parameter",
      field,
    );
  });

  it("takes the first and last times DateTime64 holds, and a `to` whose default window would start before them", async () => {
    for (const url of endpoints) {
      const edges = await app.inject(url("from=1900-01-01T00:00:00Z&to=2299-12-31T23:59:59.999Z"));
      expect(edges.statusCode, edges.body.slice(0, 300)).toBe(200);
      // No `from`: the default (to less 30 days) stops at 1900-01-01.
      const early = await app.inject(url("to=1900-01-10T00:00:00Z"));
      expect(early.statusCode, early.body.slice(0, 300)).toBe(200);
    }
    await expectError("/v1/matrix?to=1900-01-01T00:00:00Z", 400, "invalid_parameter", "to");
  });
});

describe("export cursors this API did not hand out", () => {
  const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

  it.each([
    ["a dataset that is an object", { dataset: {}, ingested_before: "2026-11-20T00:00:00.000Z" }],
    [
      "a dataset whose toString throws",
      { dataset: { toString: 1 }, ingested_before: "2026-11-20T00:00:00.000Z" },
    ],
    ["a dataset that is a number", { dataset: 7, ingested_before: "2026-11-20T00:00:00.000Z" }],
    ["null", null],
    ["an array", ["requests", "2026-11-20T00:00:00.000Z"]],
    ["a time before 1900", { dataset: "requests", ingested_before: "0001-01-01T00:00:00.000Z" }],
    ["a time after 2299", { dataset: "requests", ingested_before: "+275760-09-13T00:00:00.000Z" }],
    ["a time that is a number", { dataset: "requests", ingested_before: 0 }],
  ])("answers 400 naming cursor for %s", async (_, value) => {
    await expectError(
      `/v1/export/requests?cursor=${cursorOf(value)}`,
      400,
      "invalid_parameter",
      "cursor",
    );
  });

  it("still takes the cursors it hands out", async () => {
    const cursor = encodeCursor({ dataset: "requests", ingestedBefore: 0 });
    expect((await app.inject(`/v1/export/requests?cursor=${cursor}`)).statusCode).toBe(200);
  });
});

describe("a brief on a vendor that does not exist", () => {
  it.each(["json", "md", "csv", "html"])(
    "answers 404 naming vendor, as format=%s",
    async (format) => {
      await expectError(
        `/v1/vendors/nosuch/brief?${HAND_LEDGER_WINDOW}&format=${format}`,
        404,
        "not_found",
        "vendor",
      );
    },
  );

  it("answers a known vendor without traffic in the window with its zeros, and one only analytics.slo names", async () => {
    const quiet = await app.inject(
      "/v1/vendors/alpha/brief?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z",
    );
    expect(quiet.statusCode).toBe(200);
    expect(quiet.json()).toMatchObject({ spend_usd: "0", requests: 0 });
    // gamma never served a request, only failed an attempt: it exists.
    expect((await app.inject(`/v1/vendors/gamma/brief?${HAND_LEDGER_WINDOW}`)).statusCode).toBe(
      200,
    );
    await expectError("/v1/vendors/delta/brief", 404, "not_found", "vendor");
    const configured = await appWithSlo.inject("/v1/vendors/delta/brief");
    expect(configured.statusCode, configured.body).toBe(200);
    expect(configured.json().slo[0]).toMatchObject({
      target: 0.999,
      target_source: "config:vendor",
    });
  });
});

describe("paths and names the router or a schema cannot take", () => {
  it("answers 400 naming path for a path that is not percent-encoded UTF-8", async () => {
    await expectError("/v1/export/%E0%A4%A", 400, "invalid_parameter", "path");
    await expectError("/v1/vendors/%zz/brief", 400, "invalid_parameter", "path");
  });

  it("answers 400 naming vendor for a vendor id over 256 characters, and path past the router's bound", async () => {
    await expectError(`/v1/vendors/${"a".repeat(300)}/brief`, 400, "invalid_parameter", "vendor");
    await expectError(`/v1/vendors/${"a".repeat(3000)}/brief`, 400, "invalid_parameter", "path");
  });

  it("names an unknown parameter or field once, bounded, without quoting it in the message", async () => {
    const name = "k".repeat(5000);
    const response = await app.inject(`/v1/matrix?${name}=1`);
    expect(response.statusCode).toBe(400);
    const { error } = response.json();
    expect(error.field.length).toBeLessThanOrEqual(129);
    expect(error.message).toBe("unknown parameter");
    const body = await app.inject({
      method: "POST",
      url: "/v1/whatif",
      payload: { moves: [MOVE], [name]: 1 },
    });
    expect(body.json().error).toMatchObject({
      code: "invalid_parameter",
      message: "unknown field",
    });
    expect(body.body.length).toBeLessThan(400);
  });

  it("bounds the path an unknown route's 404 repeats", async () => {
    const response = await app.inject(`/v2/${"x".repeat(5000)}`);
    expect(response.statusCode).toBe(404);
    expect(response.body.length).toBeLessThan(400);
  });
});
