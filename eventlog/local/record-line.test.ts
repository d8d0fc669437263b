import { describe, expect, it } from "vitest";
import { decodeRecordLine, encodeRecordLine } from "./record-line.ts";

describe("local log record line", () => {
  it.each([
    ["request-1", '{"plain":true}'],
    ["key\twith\ttabs", '{"text":"line one\nline two"}'],
    ["back\\slash\n", "\\n is not a newline, \\\\ is two backslashes \\"],
    ["", ""],
    ["ünï", "日本語 🚀 \t\n\\"],
  ])("round-trips key %j and value %j byte for byte", (key, value) => {
    const line = encodeRecordLine(key, value);
    expect(line.at(-1)).toBe(0x0a);
    expect(line.subarray(0, -1).includes(0x0a)).toBe(false);
    const decoded = decodeRecordLine(line.subarray(0, -1));
    expect(decoded.key).toBe(key);
    expect(decoded.value).toEqual(Buffer.from(value, "utf8"));
  });

  it("leaves a value without backslash, LF or TAB as it is", () => {
    const value = '{"event_type":"request_completed","cost_usd":"0.0000135"}';
    expect(encodeRecordLine("request-1", value).toString("utf8")).toBe(`request-1\t${value}\n`);
  });
});
