// Which store answers for which part of a window, and the bound time ranges
// each query reads.
import { type BoundQuery, bound } from "./bound.ts";

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export type Range = [Date, Date];

function ceilTo(date: Date, unitMs: number): Date {
  return new Date(Math.ceil(date.getTime() / unitMs) * unitMs);
}

function floorTo(date: Date, unitMs: number): Date {
  return new Date(Math.floor(date.getTime() / unitMs) * unitMs);
}

/**
 * Splits [from, to) by who can answer for each part: whole days the daily
 * rollup, whole hours at either side of them the hourly rollup, and the
 * partial hours at the window's edges only the raw events. Grouping by hour
 * skips the daily rollup. Each tier has a head and a tail range; empty ranges
 * are [to, to).
 */
export function splitWindow(from: Date, to: Date, useDays: boolean) {
  const empty: Range = [to, to];
  const firstHour = ceilTo(from, HOUR_MS);
  const lastHourEnd = floorTo(to, HOUR_MS);
  if (firstHour >= lastHourEnd) {
    return { days: empty, hours: [empty, empty], raw: [[from, to] as Range, empty] };
  }
  const raw: [Range, Range] = [
    [from, firstHour],
    [lastHourEnd, to],
  ];
  const firstDay = ceilTo(from, DAY_MS);
  const lastDayEnd = floorTo(to, DAY_MS);
  if (!useDays || firstDay >= lastDayEnd) {
    return { days: empty, hours: [[firstHour, lastHourEnd] as Range, empty], raw };
  }
  return {
    days: [firstDay, lastDayEnd] as Range,
    hours: [[firstHour, firstDay] as Range, [lastDayEnd, lastHourEnd] as Range],
    raw,
  };
}

/**
 * `column` in the head or the tail range, bound as `{name}_head_from` … ;
 * a tier's ranges go by one name in every source that reads them.
 */
export function rangesSql(
  column: string,
  type: string,
  name: string,
  [head, tail]: Range[],
): BoundQuery {
  return bound(
    `((${column} >= {${name}_head_from:${type}} AND ${column} < {${name}_head_to:${type}})` +
      ` OR (${column} >= {${name}_tail_from:${type}} AND ${column} < {${name}_tail_to:${type}}))`,
    {
      [`${name}_head_from`]: head?.[0],
      [`${name}_head_to`]: head?.[1],
      [`${name}_tail_from`]: tail?.[0],
      [`${name}_tail_to`]: tail?.[1],
    },
  );
}

/** The events of [from, to) by their own time. */
export function eventWindowSql(from: Date, to: Date, column = "occurred_at"): BoundQuery {
  return bound(
    `${column} >= {window_from:DateTime64(3, 'UTC')} AND ${column} < {window_to:DateTime64(3, 'UTC')}`,
    { window_from: from, window_to: to },
  );
}
