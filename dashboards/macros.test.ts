// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Grafana's ${variable} syntax is what these strings test.
import { describe, expect, it } from "vitest";
import { ALL_VALUES, expandGrafanaMacros, type TimeRange } from "./macros.ts";

// 09:00:00.250 to 11:59:59.999 UTC: both ends off the second, to see which
// macros keep milliseconds and which truncate to seconds.
const range: TimeRange = {
  from: new Date("2026-11-20T09:00:00.250Z"),
  to: new Date("2026-11-20T11:59:59.999Z"),
  intervalSeconds: 60,
};
const FROM_SECONDS = 1795165200;
const TO_SECONDS = 1795175999;
const FROM_MILLISECONDS = 1795165200250;
const TO_MILLISECONDS = 1795175999999;

describe("expandGrafanaMacros: the ClickHouse datasource's macros", () => {
  it.each([
    ["$__fromTime", `toDateTime(${FROM_SECONDS})`],
    ["$__toTime", `toDateTime(${TO_SECONDS})`],
    ["$__fromTime_ms", `fromUnixTimestamp64Milli(${FROM_MILLISECONDS})`],
    ["$__toTime_ms", `fromUnixTimestamp64Milli(${TO_MILLISECONDS})`],
    [
      "$__timeFilter(occurred_at)",
      `occurred_at >= toDateTime(${FROM_SECONDS}) AND occurred_at <= toDateTime(${TO_SECONDS})`,
    ],
    [
      "$__timeFilter_ms( occurred_at )",
      `occurred_at >= fromUnixTimestamp64Milli(${FROM_MILLISECONDS}) AND occurred_at <= fromUnixTimestamp64Milli(${TO_MILLISECONDS})`,
    ],
    ["$__dateFilter(day)", "day >= toDate('2026-11-20') AND day <= toDate('2026-11-20')"],
    [
      "$__dateTimeFilter(day, occurred_at)",
      `(day >= toDate('2026-11-20') AND day <= toDate('2026-11-20')) AND (occurred_at >= toDateTime(${FROM_SECONDS}) AND occurred_at <= toDateTime(${TO_SECONDS}))`,
    ],
    [
      "$__dt(day, occurred_at)",
      `(day >= toDate('2026-11-20') AND day <= toDate('2026-11-20')) AND (occurred_at >= toDateTime(${FROM_SECONDS}) AND occurred_at <= toDateTime(${TO_SECONDS}))`,
    ],
    [
      "$__timeInterval(occurred_at)",
      "toStartOfInterval(toDateTime(occurred_at), INTERVAL 60 second)",
    ],
    [
      "$__timeInterval_ms(occurred_at)",
      "toStartOfInterval(toDateTime64(occurred_at, 3), INTERVAL 60000 millisecond)",
    ],
    ["count() / $__interval_s", "count() / 60"],
  ])("%s", (sql, expected) => {
    expect(expandGrafanaMacros(sql, range)).toBe(expected);
  });

  it("takes a whole expression with its own brackets and commas as one argument", () => {
    expect(expandGrafanaMacros("$__timeInterval(coalesce(a, b))", range)).toBe(
      "toStartOfInterval(toDateTime(coalesce(a, b)), INTERVAL 60 second)",
    );
  });

  it("does not take a bracket that does not follow the name at once as arguments", () => {
    expect(expandGrafanaMacros("$__interval_s * (a + b)", range)).toBe("60 * (a + b)");
  });

  it("never lets a shorter macro eat a longer one's name", () => {
    expect(expandGrafanaMacros("$__timeFilter_ms(t) OR $__timeFilter(t)", range)).toBe(
      `t >= fromUnixTimestamp64Milli(${FROM_MILLISECONDS}) AND t <= fromUnixTimestamp64Milli(${TO_MILLISECONDS})` +
        ` OR t >= toDateTime(${FROM_SECONDS}) AND t <= toDateTime(${TO_SECONDS})`,
    );
  });

  it("rounds sub-second intervals up to one second where the plugin works in seconds", () => {
    const fine = { ...range, intervalSeconds: 0.2 };
    expect(expandGrafanaMacros("$__interval_s", fine)).toBe("1");
    expect(expandGrafanaMacros("$__timeInterval(t)", fine)).toContain("INTERVAL 1 second");
    expect(expandGrafanaMacros("$__timeInterval_ms(t)", fine)).toContain(
      "INTERVAL 200 millisecond",
    );
  });

  it("truncates to whole seconds the way Go's time.Unix does, before 1970 too", () => {
    const early = { ...range, from: new Date(-500) };
    expect(expandGrafanaMacros("$__fromTime", early)).toBe("toDateTime(-1)");
  });

  it.each([
    ["a typo in a name", "WHERE $__timeFilters(occurred_at)", /unknown macro \$__timeFilters/],
    ["a generic macro this datasource does not define", "$__timeGroup(t, '1h')", /unknown macro/],
    ["Grafana's $__interval, which this expander does not model", "$__interval", /unknown/],
    ["a missing argument", "$__timeFilter", /expects 1 argument\(s\), received 0/],
    ["too many arguments", "$__timeInterval(a, b)", /expects 1 argument\(s\), received 2/],
    ["a bracket that never closes", "$__timeFilter(occurred_at", /no closing bracket/],
  ])("throws on %s", (_case, sql, message) => {
    expect(() => expandGrafanaMacros(sql, range)).toThrow(message);
  });
});

describe("expandGrafanaMacros: template variables", () => {
  const condition = "$__conditionalAll(tenant_id IN (${tenant}), $tenant)";

  it("turns $__conditionalAll into 1=1 when the variable is All or empty", () => {
    expect(expandGrafanaMacros(condition, range, { tenant: ALL_VALUES })).toBe("1=1");
    expect(expandGrafanaMacros(condition, range, { tenant: [ALL_VALUES] })).toBe("1=1");
    expect(expandGrafanaMacros(condition, range, { tenant: [] })).toBe("1=1");
  });

  it("keeps the condition otherwise, with a multi-value selection quoted and joined", () => {
    expect(expandGrafanaMacros(condition, range, { tenant: ["acme", "globex"] })).toBe(
      "tenant_id IN ('acme','globex')",
    );
  });

  it("inserts a single value as it is, as the plugin does", () => {
    expect(expandGrafanaMacros("LIMIT $rows", range, { rows: "10" })).toBe("LIMIT 10");
    expect(expandGrafanaMacros("LIMIT ${rows}", range, { rows: "10" })).toBe("LIMIT 10");
  });

  it.each([
    [
      "an unknown variable",
      "tenant_id = $tenat",
      { tenant: "acme" },
      /unknown template variable "tenat"/,
    ],
    ["All outside $__conditionalAll", "tenant_id IN (${tenant})", { tenant: ALL_VALUES }, /is All/],
    [
      "$__conditionalAll naming its variable as ${name}, which the plugin never matches",
      "$__conditionalAll(x IN (${tenant}), ${tenant})",
      { tenant: ALL_VALUES },
      /needs a variable written as \$name/,
    ],
    [
      "a variable format the expander does not model",
      "${tenant:csv}",
      { tenant: ["a"] },
      /formats/,
    ],
    ["one of Grafana's global variables", "${__from}", {}, /global variables/],
  ])("throws on %s", (_case, sql, variables, message) => {
    expect(() => expandGrafanaMacros(sql, range, variables)).toThrow(message);
  });
});
