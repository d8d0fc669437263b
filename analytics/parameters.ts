// Query-parameter pieces every endpoint shares, and the one place a zod
// failure becomes a 400 naming the parameter.
import { z } from "zod";
import { ParameterError } from "./errors.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What ClickHouse's DateTime64 holds: 1900-01-01 to 2299-12-31 (UTC). A time
 * outside is refused naming its field, never sent on (where it would fail the
 * query, a 500, or be saturated silently to the nearest end).
 */
export const EARLIEST_TIME = new Date("1900-01-01T00:00:00.000Z");
export const LATEST_TIME = new Date("2299-12-31T23:59:59.999Z");

/** `-<n><unit>`: that long before now, in minutes, hours, days (24 h) or weeks. */
const RELATIVE_TIME = /^-([1-9][0-9]{0,5})(m|h|d|w)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/**
 * A time as a parameter names it: absolute, or relative to `now` (when the
 * request is read), so a saved query or a README example keeps meaning "the
 * last hour": `-30m`, `-1h`, `-7d`, `-2w`.
 */
export function parseTime(text: string, now: number = Date.now()): Date {
  const relative = RELATIVE_TIME.exec(text);
  if (!relative) return new Date(text);
  const [, count, unit] = relative as unknown as [string, string, keyof typeof UNIT_MS];
  return new Date(now - Number(count) * UNIT_MS[unit]);
}

export const isoDateTime = z
  .union([z.iso.datetime({ offset: true }), z.string().regex(RELATIVE_TIME)], {
    error:
      "an ISO-8601 date and time with an offset (2026-11-01T00:00:00Z), or a time before now: -30m, -1h, -7d, -2w",
  })
  .describe(
    "ISO-8601 date and time with an offset, e.g. 2026-11-01T00:00:00Z, from 1900-01-01 to 2299-12-31; or relative to now: -30m, -1h, -7d, -2w (minutes, hours, days, weeks)",
  )
  .transform((text) => parseTime(text))
  .refine(
    (date) => date >= EARLIEST_TIME && date <= LATEST_TIME,
    "must be from 1900-01-01T00:00:00Z to 2299-12-31T23:59:59.999Z, what ClickHouse's DateTime64 holds",
  );

/** Vendor ids, model names, task classes and tenant ids as filters accept them. */
export const dimensionValue = z.string().min(1).max(256);

/**
 * A list parameter: repeated (`vendor=a&vendor=b`), a comma list
 * (`vendor=a,b`), or both. Empty items are dropped.
 */
export function listParameter<Item extends z.ZodType<string>>(item: Item) {
  return z.preprocess(
    (value) =>
      (Array.isArray(value) ? value : [value])
        .flatMap((part) => (typeof part === "string" ? part.split(",") : [part]))
        .map((part) => (typeof part === "string" ? part.trim() : part))
        .filter((part) => part !== ""),
    z.array(item).min(1, "give at least one value"),
  );
}

export interface TimeWindow {
  from: Date;
  to: Date;
}

/** `from` and `to` as every endpoint reads them: [from, to), by default the last 30 days. */
export const windowFields = {
  from: isoDateTime.optional().describe("start, inclusive (default: `to` less 30 days)"),
  to: isoDateTime.optional().describe("end, exclusive (default: now)"),
};

export function resolveWindow(parameters: { from?: Date; to?: Date }): TimeWindow {
  const to = parameters.to ?? new Date();
  // The default only: a `from` the client gave is never moved.
  const from =
    parameters.from ?? new Date(Math.max(to.getTime() - 30 * DAY_MS, EARLIEST_TIME.getTime()));
  if (from >= to) {
    // With no `from`, the default reached back to the earliest time: `to` is at fault.
    throw new ParameterError(parameters.from ? "from" : "to", "from must be before to");
  }
  return { from, to };
}

/** Validates `input` or throws a ParameterError naming the first parameter at fault. */
export function parseParameters<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  where: "query" | "body" = "query",
): z.output<Schema> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  // A query parameter is the first path element (group_by.1 → group_by); a
  // body field the whole path (moves.0.share). An unknown field has none, and
  // zod names it in `keys`.
  const unknownKey = (issue as { keys?: string[] } | undefined)?.keys?.[0];
  const path = issue?.path ?? [];
  const field =
    where === "body"
      ? [...path, ...(unknownKey ? [unknownKey] : [])].join(".") || "body"
      : String(path[0] ?? unknownKey ?? "query");
  // zod's message for an unknown key quotes it: ours names it once, in `field`.
  const message =
    unknownKey !== undefined
      ? `unknown ${where === "body" ? "field" : "parameter"}`
      : (issue?.message ?? "invalid parameter");
  throw new ParameterError(boundedField(field), message);
}

/** The longest field name an error repeats: a client's own key, sent back bounded. */
const MAX_FIELD_LENGTH = 128;

function boundedField(field: string): string {
  return field.length <= MAX_FIELD_LENGTH ? field : `${field.slice(0, MAX_FIELD_LENGTH)}…`;
}
