// The depth check in front of JSON.parse: exact on depth, blind to brackets
// inside strings, linear on hostile input, and naming the field it refuses.
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, offsetTooDeep, pathTo, tooDeepError } from "./json-body.ts";

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("offsetTooDeep", () => {
  it("lets a body exactly at the limit through and finds the first bracket past it", () => {
    expect(offsetTooDeep(nested(MAX_JSON_DEPTH))).toBe(-1);
    expect(offsetTooDeep(nested(MAX_JSON_DEPTH + 1))).toBe(MAX_JSON_DEPTH);
    expect(offsetTooDeep(`{"a":{"b":[1,{"c":2}]}}`, 4)).toBe(-1);
    expect(offsetTooDeep(`{"a":{"b":[1,{"c":{}}]}}`, 4)).toBe(18);
  });

  it("does not count brackets inside strings, escaped quotes included", () => {
    const text = JSON.stringify({ a: "[[[[{{{{", b: 'say \\"[[[" and \\\\', c: ["\\\\\\\\"] });
    expect(JSON.parse(text)).toBeTruthy();
    expect(offsetTooDeep(text, 2)).toBe(-1);
    expect(offsetTooDeep(`{"k\\"[[[[":[[1]]}`, 3)).toBe(-1);
    expect(offsetTooDeep(`{"k\\\\":[[[1]]]}`, 3)).toBe(9);
  });

  it("leaves malformed JSON to JSON.parse: an unclosed string ends the scan", () => {
    expect(offsetTooDeep(`{"a":"[[[[[`, 2)).toBe(-1);
    expect(offsetTooDeep(`]]]]{`, 2)).toBe(-1);
  });

  it("stays linear on 8 MB of brackets and on 8 MB of backslashes and quotes", () => {
    const brackets = `{"x":${nested(4_000_000)}}`;
    const escapes = `{"x":"${'\\"'.repeat(4_000_000)}"}`;
    const started = performance.now();
    expect(offsetTooDeep(brackets)).toBe(MAX_JSON_DEPTH + 4);
    expect(offsetTooDeep(escapes)).toBe(-1);
    // JSON.parse of the first took 4.7 s; the scan stops at the 129th bracket. The second takes
    // about 100 ms alone (4 million escaped quotes); quadratic, it would take hours. The bound
    // leaves room for a machine busy with other test files.
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("the field a too-deep body names", () => {
  it("is the path down to the too-deep bracket, its first eight segments", () => {
    const schema = { type: "object", properties: { a: { type: "array", items: [] as unknown } } };
    const body = JSON.stringify({
      model: "m",
      tools: [
        { type: "function" },
        { type: "function", function: { name: "f", parameters: schema } },
      ],
    }).replace("[]", nested(200));
    const offset = offsetTooDeep(body);
    expect(offset).toBeGreaterThan(0);
    expect(pathTo(body, offset)).toEqual([
      "tools",
      1,
      "function",
      "parameters",
      "properties",
      "a",
      "items",
      0,
    ]);
    const error = tooDeepError(body, offset);
    expect(error).toMatchObject({
      code: "invalid_request",
      status: 400,
      param: "tools[1].function.parameters.properties.a.items[0]",
    });
    expect(error.message).toContain(`more than ${MAX_JSON_DEPTH} levels`);
  });

  it("truncates the client's own key names", () => {
    const key = "k".repeat(100_000);
    const body = `{"${key}":${nested(MAX_JSON_DEPTH)}}`;
    const error = tooDeepError(body, offsetTooDeep(body));
    expect(error.param).toBe(`${"k".repeat(63)}…${"[0]".repeat(7)}`);
    expect(error.message.length).toBeLessThan(300);
  });
});
