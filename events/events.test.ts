import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { sampleBudgetAlerted, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { JSON_SCHEMA_DIRECTORY, jsonSchemaFiles } from "./export-json-schema.ts";
import { parseEvent } from "./parse.ts";

describe("event contract", () => {
  it("committed JSON Schema files match the zod schemas (run `npm run events:schemas`)", () => {
    const expected = jsonSchemaFiles();
    const committed = readdirSync(JSON_SCHEMA_DIRECTORY).sort();
    expect(committed).toEqual([...expected.keys()].sort());
    for (const [name, text] of expected) {
      expect(readFileSync(new URL(name, JSON_SCHEMA_DIRECTORY), "utf8"), name).toBe(text);
    }
  });

  it("parses a valid event and keeps every field", () => {
    const event = sampleRequestCompleted();
    const parsed = parseEvent(JSON.stringify(event));
    expect(parsed).toEqual({ ok: true, event });
  });

  it("parses a budget alert and refuses one whose period start is not UTC milliseconds", () => {
    const alert = sampleBudgetAlerted();
    expect(parseEvent(JSON.stringify(alert))).toEqual({ ok: true, event: alert });
    const local = parseEvent(JSON.stringify({ ...alert, period_start: "2026-11-20" }));
    expect(local.ok).toBe(false);
    if (!local.ok) expect(local.reason).toMatch(/^invalid budget_alerted: period_start: /);
  });

  it.each([
    ["{not json", /^invalid JSON/],
    ["[1,2]", /^event is not a JSON object$/],
    [JSON.stringify({ event_type: "bogus" }), /^unknown event_type "bogus"$/],
    [
      JSON.stringify(sampleRequestCompleted({ schema_version: 9 as 4 })),
      /^request_completed schema_version 9 is newer than 4$/,
    ],
    [
      JSON.stringify(sampleRequestCompleted({ cost_usd: "1e-6" })),
      /^invalid request_completed: cost_usd: /,
    ],
    [
      JSON.stringify(sampleRequestCompleted({ event_id: "6f1c3a52-7c2e-4b1a-9d3e-000000000000" })),
      /^invalid request_completed: event_id: /,
    ],
    [
      JSON.stringify({ ...sampleRequestCompleted(), padding: "x".repeat(70_000) }),
      /^event is \d+ bytes, over the 65536-byte limit$/,
    ],
  ])("gives a reason for bad input %#", (bytes, reason) => {
    const parsed = parseEvent(bytes);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });

  it("rejects an event time that is not UTC milliseconds", () => {
    const parsed = parseEvent(
      JSON.stringify(sampleRequestCompleted({ occurred_at: "2026-11-20T10:00:00+01:00" })),
    );
    expect(parsed.ok).toBe(false);
  });
});
