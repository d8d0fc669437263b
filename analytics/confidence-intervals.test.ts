import { describe, expect, it } from "vitest";
import {
  newcombeDifferenceInterval,
  studentT975,
  studentTInterval,
  welchDifferenceInterval,
  wilsonInterval,
} from "./confidence-intervals.ts";

describe("confidence intervals", () => {
  it("Wilson: 8 of 10 by hand", () => {
    // p = 0.8, z² = 3.841459; center = (0.8 + 0.192073) / 1.384146 = 0.716737;
    // half = (1.959964 / 1.384146) · √(0.016 + 0.009604) = 0.226573.
    const interval = wilsonInterval(8, 10);
    expect(interval?.low).toBeCloseTo(0.490162, 5);
    expect(interval?.high).toBeCloseTo(0.943318, 5);
  });

  it("Wilson stays inside [0, 1] at 0% and 100%, and is null with no trials", () => {
    expect(wilsonInterval(0, 5)?.low).toBe(0);
    expect(wilsonInterval(0, 5)?.high).toBeCloseTo(0.434482, 5);
    expect(wilsonInterval(5, 5)?.high).toBe(1);
    expect(wilsonInterval(0, 0)).toBeNull();
  });

  it("Student's t: the table, and the expansion beyond it", () => {
    expect(studentT975(1)).toBeCloseTo(12.7062, 4);
    expect(studentT975(30)).toBeCloseTo(2.04227, 5);
    expect(studentT975(40)).toBeCloseTo(2.021075, 5);
    expect(studentT975(120)).toBeCloseTo(1.97993, 5);
  });

  it("Student's t interval: scores 3, 4, 5 by hand", () => {
    // mean 4, s² = 1, t(2) = 4.302653, half = 4.302653 / √3 = 2.484138.
    const interval = studentTInterval(4, 1, 3);
    expect(interval?.low).toBeCloseTo(1.515862, 5);
    expect(interval?.high).toBeCloseTo(6.484138, 5);
    expect(studentTInterval(4, Number.NaN, 1)).toBeNull();
  });
});

describe("intervals for differences", () => {
  it("Newcombe: 3 of 10 against 8 of 10 by hand", () => {
    // Wilson(8/10) = [0.490162, 0.943318], Wilson(3/10) = [0.107791, 0.603222];
    // d = −0.5; low = d − √((0.3 − 0.107791)² + (0.943318 − 0.8)²),
    // high = d + √((0.603222 − 0.3)² + (0.8 − 0.490162)²).
    const interval = newcombeDifferenceInterval(
      { successes: 8, trials: 10 },
      { successes: 3, trials: 10 },
    );
    expect(interval?.low).toBeCloseTo(-0.739759, 5);
    expect(interval?.high).toBeCloseTo(-0.066476, 5);
    expect(
      newcombeDifferenceInterval({ successes: 0, trials: 0 }, { successes: 1, trials: 2 }),
    ).toBeNull();
  });

  it("Welch: means 200 (s² 10000, n 3) and 50 (s² 100, n 4) by hand", () => {
    // se = √(10000/3 + 100/4) = 57.951129; df = 2.03 → 2; t(2) = 4.302653.
    const interval = welchDifferenceInterval(
      { count: 3, mean: 200, sampleVariance: 10_000 },
      { count: 4, mean: 50, sampleVariance: 100 },
    );
    expect(interval?.low).toBeCloseTo(-150 - 4.302653 * 57.951129, 3);
    expect(interval?.high).toBeCloseTo(-150 + 4.302653 * 57.951129, 3);
    expect(
      welchDifferenceInterval(
        { count: 1, mean: 1, sampleVariance: 0 },
        { count: 5, mean: 2, sampleVariance: 1 },
      ),
    ).toBeNull();
  });
});
