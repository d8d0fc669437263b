import { describe, expect, it } from "vitest";
import { splitWindow } from "./matrix-sql/window.ts";

const at = (text: string) => new Date(text);
const iso = (ranges: Date[][]) => ranges.map((range) => range.map((date) => date.toISOString()));

describe("which tier answers for which part of a window", () => {
  it("whole days from the daily rollup, whole hours beside them hourly, partial hours raw", () => {
    const tiers = splitWindow(at("2026-11-18T03:17:12.345Z"), at("2026-11-20T19:02:00.001Z"), true);
    expect(iso([tiers.days])).toEqual([["2026-11-19T00:00:00.000Z", "2026-11-20T00:00:00.000Z"]]);
    expect(iso(tiers.hours)).toEqual([
      ["2026-11-18T04:00:00.000Z", "2026-11-19T00:00:00.000Z"],
      ["2026-11-20T00:00:00.000Z", "2026-11-20T19:00:00.000Z"],
    ]);
    expect(iso(tiers.raw)).toEqual([
      ["2026-11-18T03:17:12.345Z", "2026-11-18T04:00:00.000Z"],
      ["2026-11-20T19:00:00.000Z", "2026-11-20T19:02:00.001Z"],
    ]);
  });

  it("grouping by hour leaves days to the hourly rollup", () => {
    const tiers = splitWindow(at("2026-11-18T00:00:00Z"), at("2026-11-21T00:00:00Z"), false);
    const end = "2026-11-21T00:00:00.000Z";
    expect(iso([tiers.days])).toEqual([[end, end]]);
    expect(iso(tiers.hours)).toEqual([
      ["2026-11-18T00:00:00.000Z", end],
      [end, end],
    ]);
    expect(iso(tiers.raw)).toEqual([
      ["2026-11-18T00:00:00.000Z", "2026-11-18T00:00:00.000Z"],
      [end, end],
    ]);
  });

  it("a window inside one hour is all raw", () => {
    const tiers = splitWindow(at("2026-11-18T10:05:00Z"), at("2026-11-18T10:55:00Z"), true);
    expect(iso(tiers.raw)[0]).toEqual(["2026-11-18T10:05:00.000Z", "2026-11-18T10:55:00.000Z"]);
    expect(tiers.hours.every(([start, end]) => start?.getTime() === end?.getTime())).toBe(true);
  });
});
