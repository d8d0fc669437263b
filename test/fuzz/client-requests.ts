// The client-side arbitraries every inbound API shares: who calls (keys right,
// wrong, missing, malformed), how the body is labelled and written (JSON,
// broken JSON, nesting past the bound, prototype keys), texts carrying the
// prompt marker, JSON Schemas (backtracking patterns, invalid schemas, deep
// and wide ones), and mutations that put any JSON value at any place of an
// otherwise valid body.
import fc from "fast-check";
import { PROMPT_MARKER, pathologicalRun } from "./markers.ts";

export const KEY_A = "sk-fuzz-tenant-a-key";
export const KEY_B = "sk-fuzz-tenant-b-key";

export type Auth = "a" | "b" | "wrong" | "missing" | "malformed" | "lowercase" | "x-api-key";

export const auth: fc.Arbitrary<Auth> = fc.oneof(
  { weight: 20, arbitrary: fc.constant<Auth>("a") },
  { weight: 4, arbitrary: fc.constant<Auth>("b") },
  fc.constantFrom<Auth>("wrong", "missing", "malformed", "lowercase", "x-api-key"),
);

export function authHeaders(who: Auth): Record<string, string> {
  switch (who) {
    case "a":
      return { authorization: `Bearer ${KEY_A}` };
    case "b":
      return { authorization: `Bearer ${KEY_B}` };
    case "wrong":
      return { authorization: "Bearer sk-not-a-key" };
    case "missing":
      return {};
    case "malformed":
      return { authorization: `Basic ${Buffer.from(KEY_A).toString("base64")}` };
    case "lowercase":
      return { authorization: `bearer  ${KEY_A}` };
    case "x-api-key":
      return { "x-api-key": KEY_A };
  }
}

/** The tenant a key belongs to (null: the gateway must refuse it). */
export function tenantOf(who: Auth, api: "bearer" | "anthropic"): "tenant-a" | "tenant-b" | null {
  if (who === "a" || who === "lowercase") return "tenant-a";
  if (who === "b") return "tenant-b";
  if (who === "x-api-key") return api === "anthropic" ? "tenant-a" : null;
  return null;
}

export const contentType: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 24, arbitrary: fc.constant("application/json") },
  fc.constantFrom(
    "application/json; charset=utf-8",
    "text/plain",
    null,
    "application/x-www-form-urlencoded",
    "APPLICATION/JSON",
    "application/jsonx",
    "application/json; charset=utf-16",
  ),
);

/** Nesting around `inner` `depth` levels deep, as text (JSON.stringify would overflow on it). */
export function nestedText(depth: number, open = "[", close = "]", inner = ""): string {
  return `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
}

/** Bodies no valid request is: broken JSON, bare values, nesting past the bound, prototype keys. */
export function rawBodies(validPrefix: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      "",
      "{",
      "null",
      "[]",
      '"x"',
      "{}",
      "1e400",
      "\u0000",
      '{"__proto__":{"polluted":1}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
      `\ufeff${validPrefix}}`,
      `${validPrefix},"model":"nope"}`,
      `${validPrefix},"max_tokens":1e400}`,
      `${validPrefix},"x":"\\ud800"}`,
    ),
    fc
      .constantFrom(100, 127, 128, 129, 200, 1_000, 10_000, 100_000)
      .chain((depth) =>
        fc.constantFrom(
          `${validPrefix},"x":${nestedText(depth)}}`,
          `${validPrefix},"x":${nestedText(depth, '{"a":', "}", "1")}}`,
          `{"x":${nestedText(depth)}}`,
        ),
      ),
    fc.string({ unit: "binary", maxLength: 200 }),
  );
}

/** Prompt text: always the marker, in plain, Unicode, long and JSON-looking surroundings. */
export const promptText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(`${PROMPT_MARKER} What is the capital of France?`) },
  fc.string({ unit: "binary", maxLength: 60 }).map((tail) => `${PROMPT_MARKER} ${tail}`),
  fc.integer({ min: 1, max: 30_000 }).map((length) => `${PROMPT_MARKER}${"x".repeat(length)}`),
  fc.integer({ min: 1, max: 100_000 }).map((length) => `${PROMPT_MARKER} ${"漢".repeat(length)}`),
  fc.constant(`{"ssn":"${PROMPT_MARKER}"}`),
  fc.constant(`${pathologicalRun} ${PROMPT_MARKER}`),
);

const REGEX_PATTERNS = [
  "^(a+)+$",
  "^(a|aa)+$",
  "^(a|a?)+$",
  "(x+x+)+y",
  "^(?=a)a+$",
  "^(?!b)a+$",
  "\\p{L}+",
  "(",
  "[",
  "^\\d{3}-\\d{2}-\\d{4}$",
  "(.*a){12}",
  "\\1(a)",
];

/** A nested object schema `depth` levels deep. */
function deepSchema(depth: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: "string" };
  for (let level = 0; level < depth; level++) {
    schema = { type: "object", properties: { a: schema } };
  }
  return schema;
}

/** JSON Schemas a client may send for tools and response_format. */
export const jsonSchema: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constant({
      type: "object",
      properties: { name: { type: "string" }, n: { type: "integer" } },
      required: ["name"],
      additionalProperties: false,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(...REGEX_PATTERNS).map((pattern) => ({
      type: "object",
      properties: { code: { type: "string", pattern }, name: { type: "string" } },
    })),
  },
  fc.constantFrom<Record<string, unknown>>(
    { type: 12 },
    { $ref: "#/definitions/nope" },
    { type: "object", required: "name" },
    { type: "object", properties: { n: { type: "integer", format: "int32" } } },
    { type: "object", properties: { d: { type: "string", format: "date-time" } } },
    { type: "object", patternProperties: { "^(a+)+$": { type: "string" } } },
    { type: "object", properties: { e: { enum: [PROMPT_MARKER, 1] } } },
    {},
  ),
  fc.integer({ min: 1, max: 70 }).map(deepSchema),
  fc
    .uniqueArray(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 12 }), {
      maxLength: 40,
    })
    .map((names) => ({
      type: "object",
      properties: Object.fromEntries(names.map((name) => [name, { type: "string" }])),
      required: names.slice(0, 2),
    })),
);

/** `arbitrary` one time in `oneIn`, else undefined (a key JSON leaves out). */
export function sometimes<T>(arbitrary: fc.Arbitrary<T>, oneIn = 8): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: oneIn - 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary },
  );
}

export const toolName = fc.constantFrom("lookup", "get_weather", "f");

/** Tool and schema names a client may get wrong. */
export const INVALID_NAMES = ["bad name!", "x".repeat(65), ""];

/** A field name of the client's that the gateway may repeat (unknown provider fields). */
export const reflectedName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("foo", "quantizations", "require_parameters"),
  fc.string({ unit: "binary", minLength: 1, maxLength: 80 }),
  fc.constantFrom(200, 5_000, 100_000).map((length) => "k".repeat(length)),
);

/** JSON at any place of a body: any value, or a key removed. */
export interface Mutation {
  /** Which place, modulo the body's places in document order. */
  place: number;
  op: "replace" | "delete";
  value: unknown;
}

export const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.record({
    place: fc.nat(),
    op: fc.constantFrom("replace" as const, "delete" as const),
    value: fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom<unknown>(null, -1, 0, 1.5, 1e308, "", [], {}, true, "mutated"),
    ),
  }),
  { minLength: 1, maxLength: 3 },
);

type Place = { parent: Record<string, unknown> | unknown[]; key: string | number };

function placesOf(value: unknown, places: Place[] = []): Place[] {
  if (Array.isArray(value)) {
    value.forEach((item, index) => {
      places.push({ parent: value, key: index });
      placesOf(item, places);
    });
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      places.push({ parent: value as Record<string, unknown>, key });
      placesOf(item, places);
    }
  }
  return places;
}

/** A copy of `body` with the mutations applied, in order. */
export function mutated(body: unknown, applied: readonly Mutation[]): unknown {
  const copy = structuredClone(body);
  for (const mutation of applied) {
    const places = placesOf(copy);
    if (places.length === 0) break;
    const { parent, key } = places[mutation.place % places.length] as Place;
    if (mutation.op === "delete") {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
    } else (parent as Record<string | number, unknown>)[key] = structuredClone(mutation.value);
  }
  return copy;
}

/** A value set at a path of a valid body: the invalid values each API must refuse with a 400. */
export type Edit = readonly [path: readonly (string | number)[], value: unknown];

function edited(body: unknown, edits: readonly Edit[]): unknown {
  const copy = structuredClone(body) as Record<string | number, unknown>;
  for (const [path, value] of edits) {
    let parent: Record<string | number, unknown> = copy;
    for (const key of path.slice(0, -1)) {
      const next = parent[key];
      if (typeof next !== "object" || next === null) parent[key] = {};
      parent = parent[key] as Record<string | number, unknown>;
    }
    parent[path.at(-1) as string | number] = structuredClone(value);
  }
  return copy;
}

/** A request body: JSON (possibly edited or mutated out of validity), or raw text. */
export type Body =
  | { kind: "json"; value: unknown; edits: readonly Edit[]; mutations: Mutation[] }
  | { kind: "raw"; text: string };

/** The body as the gateway reads it (raw text that is JSON, a byte-order mark before it too; else undefined). */
export function bodyValue(body: Body): unknown {
  if (body.kind === "json") return mutated(edited(body.value, body.edits), body.mutations);
  try {
    return JSON.parse(body.text.replace(/^\ufeff/, ""));
  } catch {
    return undefined;
  }
}

export function bodyText(body: Body): string {
  return body.kind === "raw" ? body.text : JSON.stringify(bodyValue(body));
}

/**
 * Valid bodies most of the time; some with a value the API must refuse
 * (`invalidEdits`), some mutated anywhere, some not JSON at all.
 */
export function body(
  valid: fc.Arbitrary<unknown>,
  validPrefix: string,
  invalidEdits: readonly Edit[] = [],
): fc.Arbitrary<Body> {
  const json = (edits: fc.Arbitrary<Edit[]>, applied: fc.Arbitrary<Mutation[]>) =>
    fc
      .tuple(valid, edits, applied)
      .map(([value, edits, mutations]): Body => ({ kind: "json", value, edits, mutations }));
  const none = fc.constant<never[]>([]);
  const edited =
    invalidEdits.length > 0
      ? [
          {
            weight: 2,
            arbitrary: json(
              fc.array(fc.constantFrom(...invalidEdits), { minLength: 1, maxLength: 2 }),
              none,
            ),
          },
        ]
      : [];
  return fc.oneof(
    { weight: 12, arbitrary: json(none, none) },
    ...edited,
    { weight: 2, arbitrary: json(none, mutations) },
    { weight: 1, arbitrary: rawBodies(validPrefix).map((text): Body => ({ kind: "raw", text })) },
  );
}
