import { describe, expect, it } from "vitest";
import { planPages, type RangeDescriber, type SlotCounter } from "./page-plan.ts";

/** A counter over a list of ingest times (ms), as ClickHouse would count them. */
function counterOver(times: number[]): SlotCounter & { calls: number[] } {
  const calls: number[] = [];
  const counter = async (start: number, end: number, slotMs: number) => {
    calls.push(slotMs);
    const counts = new Map<number, number>();
    for (const time of times) {
      if (time < start || time >= end) continue;
      const slot = Math.floor(time / slotMs) * slotMs;
      counts.set(slot, (counts.get(slot) ?? 0) + 1);
    }
    return [...counts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([slotStart, rows]) => ({ slotStart, rows }));
  };
  return Object.assign(counter, { calls });
}

function describerOver(times: number[]): RangeDescriber {
  return async (start, end) => {
    const inside = times.filter((time) => time >= start && time < end);
    return { rows: inside.length, first: Math.min(...inside), last: Math.max(...inside) };
  };
}

const HOUR = 3_600_000;

describe("export page plan", () => {
  /** Pages cover the range end to end, and every time falls in exactly one. */
  function expectCoverage(
    pages: { start: number; end: number; rows: number }[],
    range: { start: number; end: number },
    times: number[],
  ) {
    expect(pages[0]?.start).toBe(range.start);
    expect(pages.at(-1)?.end).toBe(range.end);
    for (const [index, page] of pages.slice(1).entries()) {
      expect(page.start).toBe(pages[index]?.end);
    }
    for (const page of pages) {
      expect(page.rows).toBe(times.filter((time) => time >= page.start && time < page.end).length);
    }
    expect(pages.reduce((sum, page) => sum + page.rows, 0)).toBe(times.length);
  }

  it("packs rows into contiguous pages of at most pageRows", async () => {
    const times = [0, 1, 2, HOUR + 5, 2 * HOUR, 2 * HOUR + 1, 5 * HOUR];
    const range = { start: 0, end: 6 * HOUR };
    const plan = await planPages(describerOver(times), counterOver(times), range, 3);
    expect(plan.complete).toBe(true);
    expect(plan.end).toBe(range.end);
    expectCoverage(plan.pages, range, times);
    for (const page of plan.pages) expect(page.rows).toBeLessThanOrEqual(3);
  });

  it("sizes its one histogram from where the rows are, however long the range", async () => {
    // 10,000 rows over ten hours, with a range that starts in 1970.
    const times = Array.from({ length: 10_000 }, (_, index) => 1_795_000_000_000 + index * 3_600);
    const counter = counterOver(times);
    const range = { start: 0, end: 1_795_100_000_000 };
    const plan = await planPages(describerOver(times), counter, range, 1_000);
    expect(counter.calls).toHaveLength(1);
    expectCoverage(plan.pages, range, times);
    expect(plan.pages.length).toBeGreaterThanOrEqual(10);
    expect(plan.pages.length).toBeLessThanOrEqual(14);
    for (const page of plan.pages) expect(page.rows).toBeLessThanOrEqual(1_000);
  });

  it("looks closer only where a slot is crowded, and never splits a millisecond", async () => {
    const times = [...Array.from({ length: 5 }, () => 7), 8, 9, 1_500, 1_501];
    const counter = counterOver(times);
    const range = { start: 0, end: HOUR };
    const plan = await planPages(describerOver(times), counter, range, 3);
    expect(counter.calls.at(-1)).toBe(1);
    expectCoverage(plan.pages, range, times);
    // The five rows of millisecond 7 are one page of their own.
    expect(plan.pages).toContainEqual({ start: expect.any(Number), end: 8, rows: 5 });
    for (const page of plan.pages.filter((candidate) => candidate.end !== 8)) {
      expect(page.rows).toBeLessThanOrEqual(3);
    }
  });

  it("stops at a row limit on a slot boundary and says it is not complete", async () => {
    const times = [10, 20, 30, HOUR + 1, HOUR + 2];
    const plan = await planPages(
      describerOver(times),
      counterOver(times),
      { start: 0, end: 3 * HOUR },
      100,
      2,
    );
    expect(plan).toEqual({ pages: [{ start: 0, end: 30, rows: 2 }], end: 30, complete: false });
  });

  it("plans nothing for an empty range", async () => {
    expect(
      await planPages(describerOver([]), counterOver([]), { start: 0, end: HOUR }, 10),
    ).toEqual({
      pages: [],
      end: HOUR,
      complete: true,
    });
  });
});
