// Every field of every current event schema (events/schemas.ts) lands in a
// column of its table, as the migrations leave it on a fresh database (read
// with DESCRIBE), or is listed below as deliberately not stored, with why.
// A field stored elsewhere than under its own name (ingest/rows.ts) is
// listed with its column, and toRow is checked to put it there. So a new
// schema version that forgets its migration, or a migration that drops a
// field, fails here and not in a dead-letter queue.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { eventTime, newEventId } from "../events/ids.ts";
import { CURRENT_SCHEMAS, type EventType, type SwitchboardEvent } from "../events/schemas.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import {
  sampleAttemptFailed,
  sampleBudgetAlerted,
  sampleQualityScored,
  sampleRequestCompleted,
} from "../test/fixtures/sample-events.ts";
import { TABLE_FOR_EVENT, toRow } from "./rows.ts";

/** Fields no column holds, per event type, and why. */
const NOT_STORED: Record<EventType | "every", Record<string, string>> = {
  every: { event_type: "the table is the type: one table per topic" },
  route_decided: {},
  attempt_failed: {},
  request_completed: {},
  quality_scored: {},
  budget_alerted: {},
};

/** Fields stored under another column than their own name (ingest/rows.ts). */
const MOVED: Partial<Record<EventType, Record<string, string>>> = {
  route_decided: {
    // Beside the candidates, so the candidates' tuple kept its v1 shape (0008).
    "candidates[].score": "candidate_scores[]",
  },
  quality_scored: {
    // Spread into columns for the quality rollup (0011).
    "scored_request.occurred_at": "request_occurred_at",
    "scored_request.task": "task",
    "scored_request.vendor": "vendor",
    "scored_request.model": "model",
    "scored_request.key_id": "key_id",
    "scored_request.team": "team",
    "scored_request.tags": "tags",
  },
};

/**
 * Nullable fields kept in a column that is not: null is stored as '' so the
 * field can be a grouping key of the rollups (their sorting keys take no
 * Nullable), per event type. A score upcast from v1 has no scored request:
 * its columns keep their defaults, '' and [] (tags).
 */
const NULL_AS_EMPTY: Partial<Record<EventType, string[]>> = {
  request_completed: ["vendor", "model", "key_id", "team"],
  attempt_failed: ["key_id", "team"],
  quality_scored: [
    "scored_request.task",
    "scored_request.vendor",
    "scored_request.model",
    "scored_request.key_id",
    "scored_request.team",
    "scored_request.tags",
  ],
};

/** Columns no field gives: what ingest adds. */
const DERIVED_COLUMNS = { ingested_at: "when ingest stored the row, apart from the event's time" };

interface Leaf {
  path: string;
  nullable: boolean;
}

/**
 * The leaf fields of a zod schema as paths: `a.b` inside an object, `a[].b`
 * inside an array of objects; an array of scalars is one leaf. The options
 * of a union add their fields together.
 */
function leaves(schema: z.ZodType, path = "", nullable = false): Leaf[] {
  const def = schema._zod.def as unknown as {
    type: string;
    innerType?: z.ZodType;
    shape?: Record<string, z.ZodType>;
    element?: z.ZodType;
    options?: z.ZodType[];
  };
  switch (def.type) {
    case "nullable":
      return leaves(def.innerType as z.ZodType, path, true);
    case "optional":
    case "default":
    case "readonly":
      return leaves(def.innerType as z.ZodType, path, nullable);
    case "object":
      return Object.entries(def.shape ?? {}).flatMap(([name, field]) =>
        leaves(field, path ? `${path}.${name}` : name, nullable),
      );
    case "array": {
      const element = def.element as z.ZodType;
      const inner = leaves(element, `${path}[]`, false);
      return inner.length === 1 && inner[0]?.path === `${path}[]` ? [{ path, nullable }] : inner;
    }
    case "union": {
      const byPath = new Map<string, Leaf>();
      for (const option of def.options ?? []) {
        for (const leaf of leaves(option, path, nullable)) {
          byPath.set(leaf.path, {
            path: leaf.path,
            nullable: leaf.nullable || byPath.get(leaf.path)?.nullable === true,
          });
        }
      }
      return [...byPath.values()];
    }
    default:
      return [{ path, nullable }];
  }
}

/** `a, b(c, d), e` split at the top level's commas. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index];
    if (character === "(") depth += 1;
    else if (character === ")") depth -= 1;
    else if (character === "," && depth === 0) {
      parts.push(text.slice(start, index).trim());
      start = index + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts.filter((part) => part !== "");
}

function unwrap(type: string, wrapper: string): string | null {
  const prefix = `${wrapper}(`;
  return type.startsWith(prefix) && type.endsWith(")") ? type.slice(prefix.length, -1) : null;
}

/** A column's leaves as paths, as `leaves` names fields: `t.a` in a Tuple, `t[].a` in an Array(Tuple). */
function columnLeaves(name: string, type: string): Leaf[] {
  const lowCardinality = unwrap(type, "LowCardinality");
  if (lowCardinality !== null) return columnLeaves(name, lowCardinality);
  const nullable = unwrap(type, "Nullable");
  if (nullable !== null) {
    return columnLeaves(name, nullable).map((leaf) => ({ ...leaf, nullable: true }));
  }
  const tuple = unwrap(type, "Tuple");
  if (tuple !== null) {
    return splitTopLevel(tuple).flatMap((element) => {
      const [elementName, ...elementType] = element.split(/\s+/);
      return columnLeaves(`${name}.${elementName}`, elementType.join(" "));
    });
  }
  const array = unwrap(type, "Array");
  if (array?.startsWith("Tuple(")) return columnLeaves(`${name}[]`, array);
  // An array of scalars is one leaf, nullable when its elements are.
  if (array !== null) return columnLeaves(name, array);
  return [{ path: name, nullable: false }];
}

/** One event of each type with every optional part present, for toRow. */
const SAMPLES: Record<EventType, SwitchboardEvent> = {
  route_decided: {
    event_id: newEventId(),
    event_type: "route_decided",
    schema_version: 2,
    occurred_at: eventTime(new Date("2026-11-20T10:00:00.000Z")),
    tenant_id: "acme",
    request_id: "req_1",
    task: "general",
    task_source: "default",
    request_model: "fast",
    policy: "cheapest",
    score_basis: "usd_per_estimated_request",
    candidates: [
      { vendor: "alpha", model: "m1", rank: 1, skipped_reason: null, score: "0.25" },
      { vendor: "beta", model: "m2", rank: 2, skipped_reason: "open circuit", score: null },
    ],
    chosen_vendor: "alpha",
    chosen_model: "m1",
    reason: "cheapest",
  },
  attempt_failed: sampleAttemptFailed({ key_id: null, team: null, tags: ["prod"] }),
  request_completed: sampleRequestCompleted({ vendor: null, model: null, key_id: null }),
  quality_scored: sampleQualityScored({
    scored_request: {
      occurred_at: "2026-11-20T10:00:00.123Z",
      task: "general",
      vendor: null,
      model: "m1",
      key_id: "k1",
      team: null,
      tags: ["prod"],
    },
  }),
  budget_alerted: sampleBudgetAlerted(),
};

/** The value at a leaf path of an event (the first element's, under an array). */
function valueAt(event: unknown, path: string): unknown {
  let value = event;
  for (const part of path.split(".")) {
    const name = part.replace(/\[\]$/, "");
    value = (value as Record<string, unknown> | null)?.[name];
    if (part.endsWith("[]")) value = (value as unknown[])[0];
  }
  return value;
}

let clickhouse: TestClickHouse;
const columns = new Map<EventType, Leaf[]>();

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  for (const eventType of Object.keys(CURRENT_SCHEMAS) as EventType[]) {
    const described = await queryRows<{ name: string; type: string }>(
      clickhouse.client,
      `DESCRIBE TABLE ${TABLE_FOR_EVENT[eventType]}`,
    );
    columns.set(
      eventType,
      described.flatMap((column) => columnLeaves(column.name, column.type)),
    );
  }
});
afterAll(async () => {
  await clickhouse.close();
});

describe.each(Object.keys(CURRENT_SCHEMAS) as EventType[])("%s", (eventType) => {
  const schema = CURRENT_SCHEMAS[eventType] as unknown as z.ZodType;
  const notStored = { ...NOT_STORED.every, ...NOT_STORED[eventType] };
  const moved = MOVED[eventType] ?? {};
  const nullAsEmpty = NULL_AS_EMPTY[eventType] ?? [];
  const fields = leaves(schema);
  /** The column leaf a field is stored in; an array column's elements are the column. */
  const columnOf = (path: string) => (moved[path] ?? path).replace(/\[\]$/, "");

  it("has every field in a column, or listed as not stored", () => {
    const byPath = new Map((columns.get(eventType) ?? []).map((leaf) => [leaf.path, leaf]));
    const missing = fields
      .filter((field) => !(field.path in notStored))
      .filter((field) => !byPath.has(columnOf(field.path)))
      .map((field) => field.path);
    expect(
      missing,
      `fields of ${eventType} v${CURRENT_SCHEMAS[eventType].shape.schema_version.value} with no column`,
    ).toEqual([]);
  });

  it("keeps a null where the field can be null, or stores '' as listed", () => {
    const byPath = new Map((columns.get(eventType) ?? []).map((leaf) => [leaf.path, leaf]));
    const nullLost = fields
      .filter((field) => field.nullable && !nullAsEmpty.includes(field.path))
      .filter((field) => byPath.get(columnOf(field.path))?.nullable === false)
      .map((field) => field.path);
    expect(nullLost).toEqual([]);
  });

  it("lists only fields the schema has", () => {
    const paths = fields.map((field) => field.path);
    for (const path of [...Object.keys(notStored), ...Object.keys(moved), ...nullAsEmpty]) {
      expect(paths, `${path} is listed but not a field`).toContain(path);
    }
  });

  it("is turned into a row of real columns, moved and emptied fields where listed", () => {
    const row = toRow(SAMPLES[eventType]);
    const tableColumns = new Set(
      (columns.get(eventType) ?? []).map((leaf) => leaf.path.split(/[.[]/)[0]),
    );
    expect(Object.keys(row).filter((name) => !tableColumns.has(name))).toEqual([]);
    for (const [path, column] of Object.entries(moved)) {
      const value = valueAt(SAMPLES[eventType], path);
      const stored = valueAt(row, column);
      expect(stored, `${path} → ${column}`).toEqual(
        value === null && nullAsEmpty.includes(path) ? "" : value,
      );
    }
    for (const path of nullAsEmpty) {
      if (valueAt(SAMPLES[eventType], path) !== null) continue;
      expect(valueAt(row, moved[path] ?? path), `${path} null → ''`).toBe("");
    }
  });

  it("has no column that no field gives, beyond what ingest adds", () => {
    const given = new Set(fields.map((field) => columnOf(field.path).split(/[.[]/)[0] as string));
    const orphans = (columns.get(eventType) ?? [])
      .map((leaf) => leaf.path.split(/[.[]/)[0] as string)
      .filter((name) => !given.has(name) && !(name in DERIVED_COLUMNS));
    expect([...new Set(orphans)]).toEqual([]);
  });
});
