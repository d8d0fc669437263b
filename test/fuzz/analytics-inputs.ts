// Generated input for the analytics API: every endpoint (matrix, what-if,
// vendor brief, export, and paths no endpoint has), with query strings built
// from each endpoint's own parameter names and hostile values (times outside
// what DateTime64 holds, exponents, decimals past 18 places, lists, forged
// cursors, raw and broken percent-encoding, unknown and repeated keys), and
// what-if bodies valid, with any JSON at one of their places, or not JSON at
// all, under any content type, with an admin token, a tenant's token or none;
// over the hand ledger in chDB. What every answer must be: never a 5xx; a
// refusal in the API's error format, its status the one errors.ts gives its
// code, naming the field where the code names one.
//
// analytics/generated-input.test.ts runs these in `npm test`; the fuzz
// target (analytics.fuzz.ts) runs them at scale with /healthz probed.
import { createHash } from "node:crypto";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { buildAnalytics } from "../../analytics/app.ts";
import { ANALYTICS_ENDPOINTS } from "../../analytics/endpoints.ts";
import { ANALYTICS_ERRORS } from "../../analytics/errors.ts";
import { encodeCursor } from "../../analytics/export/cursor.ts";
import { EXPORT_DATASET_NAMES } from "../../analytics/export/datasets.ts";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import { freshClickHouse } from "../fixtures/clickhouse.ts";
import { handLedger } from "../fixtures/hand-ledger.ts";
import { loadEvents } from "../fixtures/load-events.ts";

const TOKENS = { admin: "sat-fuzz-admin", globex: "sat-fuzz-globex" };
export type Who = "admin" | "globex" | "none" | "unknown";

function headersOf(who: Who): Record<string, string> {
  if (who === "none") return {};
  const token = who === "unknown" ? "sat-nobody" : TOKENS[who];
  return { authorization: `Bearer ${token}` };
}

const queryNames = (path: string) =>
  Object.keys(
    ANALYTICS_ENDPOINTS.find((endpoint) => endpoint.path === path)?.queryParameters ?? {},
  );

/** Times: inside DateTime64's range, at its edges, past them, and not times at all. */
const time = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .date({
        min: new Date("1900-01-01T00:00:00.000Z"),
        max: new Date("2299-12-31T23:59:59.999Z"),
        noInvalidDate: true,
      })
      .map((date) => date.toISOString()),
  },
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom(
    "2026-11-20T00:00:00Z",
    "2026-11-22T00:00:00+14:00",
    "2026-11-20T00:00:00-12:00",
    "1900-01-01T00:00:00Z",
    "1899-12-31T23:59:59.999Z",
    "2299-12-31T23:59:59.999Z",
    "2300-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "+275760-09-13T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "2026-11-20",
    "yesterday",
    "",
  ),
);

const numberText = fc.oneof(
  fc.double().map(String),
  fc.integer().map(String),
  fc.constantFrom(
    "0",
    "-1",
    "1e3",
    "1e400",
    "NaN",
    "Infinity",
    "0x10",
    "1.5",
    "9".repeat(400),
    " 1",
    "",
  ),
);

const decimalText = fc.oneof(
  fc.constantFrom(
    "0.5",
    "1",
    "0",
    "1e3",
    "-0.5",
    "0.0000000000000000001",
    "0.000000000000000001",
    "9".repeat(20),
    "9".repeat(21),
    "1.",
    ".5",
    "",
  ),
  fc.tuple(fc.nat(), fc.nat()).map(([whole, fraction]) => `${whole}.${fraction}`),
  fc.double().map(String),
);

const cursorText = (value: unknown) =>
  Buffer.from(JSON.stringify(value) ?? "").toString("base64url");

const cursor = fc.oneof(
  fc
    .tuple(fc.constantFrom(...EXPORT_DATASET_NAMES), fc.integer({ min: -3e12, max: 1e13 }))
    .map(([dataset, ingestedBefore]) => encodeCursor({ dataset, ingestedBefore })),
  fc
    .record({
      dataset: fc.jsonValue({ maxDepth: 2 }),
      ingested_before: fc.oneof(time, fc.jsonValue({ maxDepth: 1 })),
    })
    .map(cursorText),
  fc.jsonValue({ maxDepth: 2 }).map(cursorText),
  fc.string({ maxLength: 80 }),
  fc.constantFrom("bm90LWEtY3Vyc29y", "x".repeat(600), "===", ""),
);

const word = fc.oneof(
  fc.constantFrom(
    "alpha",
    "beta",
    "gamma",
    "m1",
    "m2",
    "code",
    "general",
    "acme",
    "globex",
    "vendor",
    "day",
    "all",
    "exact",
    "csv",
  ),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("x".repeat(257), ",,,", " , "),
);

/** A value for a parameter, shaped by what the name takes. */
function valueFor(name: string): fc.Arbitrary<string> {
  if (name === "from" || name === "to") return time;
  if (name === "cursor") return cursor;
  if (name === "limit" || name.startsWith("slo_") || name === "quality_floor") return numberText;
  return fc.oneof(
    word,
    fc.array(word, { minLength: 1, maxLength: 4 }).map((words) => words.join(",")),
  );
}

/** Values each parameter takes, so that answers of 200 (and the queries behind them) are common too. */
const GOOD_VALUES: Record<string, string[]> = {
  from: ["2026-11-20T00:00:00Z", "2026-11-01T00:00:00Z", "2026-11-20T10:30:00.5+01:00"],
  to: ["2026-11-22T00:00:00Z", "2026-12-01T00:00:00Z"],
  group_by: [
    "vendor",
    "vendor,task",
    "day,vendor",
    "hour",
    "tenant,model",
    "team",
    "key",
    "tag",
    "week,task",
    "month",
  ],
  metrics: ["all", "requests,cost_usd", "quality", "latency_ms_p99,ttft_ms_p50", "share_of_spend"],
  quantile_method: ["t-digest", "exact"],
  quality_source: ["human", "eval,heuristic"],
  format: ["json", "md", "csv", "html", "ndjson", "arrow", "parquet"],
  vendor: ["alpha", "beta,gamma"],
  model: ["m1", "m2"],
  task: ["code", "general"],
  tenant: ["acme", "globex", "acme,globex"],
  team: ["search"],
  key: ["acme-search", "acme-batch"],
  tag: ["prod", "batch"],
  limit: ["1", "2", "100"],
  cursor: [encodeCursor({ dataset: "requests", ingestedBefore: 0 })],
  quality_metric: ["helpful"],
  quality_floor: ["0.5", "0"],
  slo_availability: ["0.9"],
  slo_ttft_p95_ms: ["100"],
  slo_error_rate: ["0.1"],
};

function goodPairs(names: string[]): fc.Arbitrary<Pair[]> {
  const known = names.filter((name) => GOOD_VALUES[name]);
  return fc.uniqueArray(fc.constantFrom(...known), { maxLength: 4 }).chain((chosen) =>
    fc.tuple(
      ...chosen.map((name) =>
        fc.record({
          name: fc.constant(name),
          value: fc.constantFrom(...(GOOD_VALUES[name] as string[])),
          raw: fc.constant(false),
        }),
      ),
    ),
  );
}

/** One query-string pair; a `raw` value goes in unencoded (broken percent-encoding, `&`, `=`). */
interface Pair {
  name: string;
  value: string;
  raw: boolean;
}

function pairs(names: string[]): fc.Arbitrary<Pair[]> {
  const known = fc
    .constantFrom(...names)
    .chain((name) =>
      fc.record({ name: fc.constant(name), value: valueFor(name), raw: fc.constant(false) }),
    );
  const unknown = fc.record({
    name: fc.oneof(word, fc.constantFrom("k".repeat(5000), "colour", "__proto__", "constructor")),
    value: word,
    raw: fc.constant(false),
  });
  const broken = fc.record({
    name: fc.constantFrom(...names, "x"),
    value: fc.constantFrom("%", "%zz", "%E0%A4%A", "%00", "a&b=c", "%C0%AF", "\u0000"),
    raw: fc.constant(true),
  });
  return fc.array(fc.oneof({ weight: 10, arbitrary: known }, unknown, broken), { maxLength: 8 });
}

function queryString(list: Pair[]): string {
  const text = list
    .map(
      ({ name, value, raw }) =>
        `${encodeURIComponent(name)}=${raw ? value : encodeURIComponent(value)}`,
    )
    .join("&");
  return text === "" ? "" : `?${text}`;
}

const pathSegment = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom("alpha", "beta", "gamma", "nosuch", ...EXPORT_DATASET_NAMES),
  },
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.constantFrom("%zz", "%E0%A4%A", "..", "%2F", "a".repeat(300), "a".repeat(3000), ""),
);

const MOVE = {
  task: "code",
  from: { vendor: "alpha", model: "m1" },
  to: { vendor: "beta", model: "m2" },
};

/** What-if bodies of the right shape, each field drawn from values good and bad. */
const whatIfValue = fc.record(
  {
    from: time,
    to: time,
    tenant: fc.array(word, { maxLength: 3 }),
    moves: fc.array(
      fc.record(
        {
          task: fc.constantFrom("code", "general", "nope"),
          from: fc.constantFrom(MOVE.from, MOVE.to, { vendor: "gamma", model: "m3" }),
          to: fc.constantFrom(MOVE.from, MOVE.to, { vendor: "delta", model: "m9" }),
          share: decimalText,
          price: fc.record(
            { input: decimalText, cached_input: decimalText, output: decimalText },
            { requiredKeys: ["input", "output"] },
          ),
        },
        { requiredKeys: ["task", "from", "to"] },
      ),
      { minLength: 1, maxLength: 3 },
    ),
  },
  { requiredKeys: ["moves"] },
);

/** Where a what-if body may get any JSON instead of what belongs there. */
const BODY_PLACES = [
  [],
  ["from"],
  ["tenant"],
  ["moves"],
  ["moves", 0],
  ["moves", 0, "task"],
  ["moves", 0, "from"],
  ["moves", 0, "to", "vendor"],
  ["moves", 0, "share"],
  ["moves", 0, "price"],
  ["moves", 0, "price", "input"],
  ["moves", 5],
  ["surprise"],
] as const;

/** `value` with `replacement` set at `place` (made as it goes); the whole value when the place is empty. */
function withValueAt(value: unknown, place: readonly (string | number)[], replacement: unknown) {
  if (place.length === 0) return replacement;
  const root = structuredClone(value) as Record<string | number, unknown>;
  let parent = root;
  for (const key of place.slice(0, -1)) {
    if (typeof parent[key] !== "object" || parent[key] === null) parent[key] = {};
    parent = parent[key] as Record<string | number, unknown>;
  }
  parent[place.at(-1) as string | number] = replacement;
  return root;
}

const whatIfText: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: whatIfValue.map((value) => JSON.stringify(value)) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        whatIfValue,
        fc.constantFrom(...BODY_PLACES),
        fc.oneof(
          fc.jsonValue({ maxDepth: 3 }),
          fc.constantFrom<unknown>(null, -1, 1e308, "", [], {}, "1e3"),
        ),
      )
      .map(([value, place, replacement]) => JSON.stringify(withValueAt(value, place, replacement))),
  },
  fc.constantFrom(
    "",
    "{",
    "null",
    "[]",
    '"moves"',
    "{}",
    "1e400",
    '{"__proto__":{"admin":true},"moves":[]}',
    '{"moves":[{"constructor":{"prototype":{"admin":true}}}]}',
    `\ufeff${JSON.stringify({ moves: [MOVE] })}`,
    `{"moves":[${JSON.stringify(MOVE)}],"moves":"again"}`,
    `{"moves":[${JSON.stringify(MOVE)}],"x":"\\ud800"}`,
  ),
  fc
    .constantFrom(15, 16, 17, 100, 10_000, 200_000)
    .chain((depth) =>
      fc.constantFrom(
        `{"moves":${"[".repeat(depth)}${"]".repeat(depth)}}`,
        `{"moves":[${'{"a":'.repeat(depth)}1${"}".repeat(depth)}]}`,
      ),
    ),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.constant(JSON.stringify({ moves: [MOVE], padding: "x".repeat(1024 * 1024) })),
);

const whatIfContentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant<string | null>("application/json") },
  fc.constantFrom<string | null>(
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/jsonx",
    "multipart/form-data; boundary=x",
    null,
  ),
);

export type AnalyticsCase =
  | { kind: "get"; who: Who; path: string; query: Pair[] }
  | { kind: "whatif"; who: Who; contentType: string | null; body: string; query: Pair[] };

const who = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Who>("admin") },
  { weight: 2, arbitrary: fc.constant<Who>("globex") },
  fc.constantFrom<Who>("none", "unknown"),
);

/** A route's query: hostile pairs, or pairs of the values its parameters take. */
const queryFor = (route: string) =>
  fc.oneof(pairs(queryNames(route)), goodPairs(queryNames(route)), goodPairs(queryNames(route)));

/** A GET: a route with its own parameters, now and then another route's or a path no route has. */
const getCase = fc
  .oneof(
    fc.constant({ route: "/v1/matrix", path: fc.constant("/v1/matrix") }),
    fc.constant({
      route: "/v1/vendors/:vendor/brief",
      path: pathSegment.map((vendor) => `/v1/vendors/${vendor}/brief`),
    }),
    fc.constant({
      route: "/v1/export/:dataset",
      path: pathSegment.map((dataset) => `/v1/export/${dataset}`),
    }),
    fc.constant({
      route: "/v1/matrix",
      path: fc.constantFrom("/v1/whatif", "/openapi.json", "/healthz", "/v1/nope", "/v1/matrix/x"),
    }),
  )
  .chain(({ route, path }) =>
    fc.record({ kind: fc.constant("get" as const), who, path, query: queryFor(route) }),
  );

export const analyticsCase: fc.Arbitrary<AnalyticsCase> = fc.oneof(
  { weight: 3, arbitrary: getCase },
  fc.record({
    kind: fc.constant("whatif" as const),
    who,
    contentType: whatIfContentType,
    body: whatIfText,
    query: pairs(["tenant", "x"]),
  }),
);

/** One property an answer broke, as the fuzz runner counts them. */
export interface AnswerViolation {
  property: string;
  detail: string;
}

/** The codes whose refusals name the field at fault. */
const NAMES_A_FIELD = new Set([
  "invalid_parameter",
  "forbidden_tenant",
  "body_too_large",
  "unsupported_media_type",
]);

/** What an answer of this status and body breaks: a 5xx, an error outside the format, a field not named. */
export function answerViolations(status: number, text: string): AnswerViolation[] {
  const detail = `${status}: ${text.slice(0, 300)}`;
  if (status >= 500) return [{ property: "no_5xx", detail }];
  if (status < 400) return [];
  let error: { code?: unknown; message?: unknown; field?: unknown } | undefined;
  try {
    error = JSON.parse(text).error;
  } catch {
    // Not JSON: reported as outside the format below.
  }
  const code = typeof error?.code === "string" ? error.code : "";
  const documented = (ANALYTICS_ERRORS as Record<string, { status: number }>)[code];
  if (documented?.status !== status || typeof error?.message !== "string") {
    return [{ property: "error_format", detail }];
  }
  if (NAMES_A_FIELD.has(code) && typeof error.field !== "string") {
    return [{ property: "error_names_field", detail }];
  }
  return [];
}

export interface AnalyticsUnderTest {
  app: FastifyInstance;
  /** Sends one case; counts answers by status. */
  send(
    input: AnalyticsCase,
  ): Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
  statuses: Map<number, number>;
  stop(): Promise<void>;
}

/**
 * The analytics API over the hand ledger (and `extraEvents`) on a fresh
 * chDB, with an admin and a tenant's token.
 */
export async function startAnalyticsUnderTest(
  extraEvents: SwitchboardEvent[] = [],
): Promise<AnalyticsUnderTest> {
  const clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, [...handLedger(), ...extraEvents]);
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
  const app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    // Small pages, so an export crosses pages; no settle time, so rows are ready.
    exportOptions: { pageRows: 3, settleMs: 0 },
    tokens: [
      { id: "admin", sha256: sha256(TOKENS.admin), admin: true },
      { id: "globex", sha256: sha256(TOKENS.globex), tenants: ["globex"] },
    ],
  });
  const statuses = new Map<number, number>();
  return {
    app,
    statuses,
    async send(input) {
      const response = await (input.kind === "get"
        ? app.inject({
            method: "GET",
            url: `${input.path}${queryString(input.query)}`,
            headers: headersOf(input.who),
          })
        : app.inject({
            method: "POST",
            url: `/v1/whatif${queryString(input.query)}`,
            headers: {
              ...headersOf(input.who),
              ...(input.contentType === null ? {} : { "content-type": input.contentType }),
            },
            payload: input.body,
          }));
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
      return response;
    },
    async stop() {
      await app.close();
      await clickhouse.close();
    },
  };
}
