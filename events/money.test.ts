import { describe, expect, it } from "vitest";
import { formatDecimal, normalizeDecimal, parseDecimal, perUnitPrice } from "./money.ts";

describe("money", () => {
  it("round-trips decimal strings exactly", () => {
    for (const text of ["0", "1", "0.15", "12.000000000000000001", "123456789012345.5"]) {
      expect(formatDecimal(parseDecimal(text))).toBe(text);
    }
  });

  it("sums amounts that binary floating point gets wrong", () => {
    const total = parseDecimal("0.1") + parseDecimal("0.2");
    expect(formatDecimal(total)).toBe("0.3");
    expect(0.1 + 0.2).not.toBe(0.3);
  });

  it("refuses malformed input and lost digits", () => {
    expect(() => parseDecimal("1e-6")).toThrow(/not a decimal/);
    expect(() => parseDecimal("abc")).toThrow(/not a decimal/);
    expect(() => parseDecimal("0.0000000000000000001")).toThrow(/more than 18/);
    expect(parseDecimal("1.50000000000000000000")).toBe(parseDecimal("1.5"));
  });

  it("divides per-million prices to per-token prices exactly", () => {
    expect(perUnitPrice("0.15", 1_000_000)).toBe("0.00000015");
    expect(perUnitPrice("2.5", 1_000_000)).toBe("0.0000025");
    expect(normalizeDecimal("3.4500")).toBe("3.45");
    expect(formatDecimal(-15n, 1)).toBe("-1.5");
  });
});
