import { describe, expect, it } from "vitest";
import { sampleQualityScored } from "../test/fixtures/sample-events.ts";
import { parseEvent } from "./parse.ts";
import { topicFor } from "./topics.ts";

describe("quality_scored v1", () => {
  it.each([
    ["a boolean", { value: { type: "boolean", boolean: false } }],
    ["a number on its scale", { value: { type: "number", number: 4, minimum: 1, maximum: 5 } }],
    ["a category", { value: { type: "category", category: "off-topic" } }],
    [
      "an eval score from a gold set, with a comment",
      {
        source: "eval",
        gold_set_name: "invoices",
        gold_set_version: "2026-11-01",
        comment: "matched 3 of 3 fields",
      },
    ],
  ] as const)("accepts %s and keeps every field", (_, overrides) => {
    const event = sampleQualityScored(overrides);
    expect(parseEvent(JSON.stringify(event))).toEqual({ ok: true, event });
  });

  it.each([
    [
      { value: { type: "number", number: 6, minimum: 1, maximum: 5 } },
      /value\.number: number must lie within \[minimum, maximum\]/,
    ],
    [
      { value: { type: "number", number: 1, minimum: 5, maximum: 1 } },
      /value\.minimum: minimum must be below maximum/,
    ],
    [{ value: { type: "boolean", boolean: "yes" } }, /value\.boolean: /],
    [{ value: { type: "stars", stars: 3 } }, /value\.type: /],
    [{ metric: "Helpful Answer" }, /metric: lowercase letters, digits/],
    [{ source: "customer" }, /source: /],
    [{ gold_set_name: "invoices" }, /gold_set_version: gold_set_name and gold_set_version/],
  ])("refuses %j with a reason", (overrides, reason) => {
    const parsed = parseEvent(JSON.stringify(sampleQualityScored(overrides as object)));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it("has its own topic", () => {
    expect(topicFor("quality_scored")).toBe("switchboard.quality_scored");
  });
});
