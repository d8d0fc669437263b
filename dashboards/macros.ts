// Expands a dashboard query the way Grafana and the official ClickHouse
// datasource (grafana-clickhouse-datasource) do before the SQL reaches
// ClickHouse, so tests can run every panel's query against a real engine.
//
// The order is the plugin's: its frontend first resolves $__conditionalAll and
// then Grafana's template variables; its backend then expands the $__ macros
// of pkg/macros/macros.go with the grafana-plugin-sdk-go sqlutil parser.
// Anything starting with $__ that is left after that throws, where Grafana
// would pass it through and ClickHouse would fail on it at view time.

export interface TimeRange {
  from: Date;
  to: Date;
  /** Grafana's query interval (the panel width divided into points), in seconds. */
  intervalSeconds: number;
}

/**
 * Values of the dashboard's template variables: a string for a single value,
 * an array for a multi-value selection, and ALL_VALUES for "All".
 */
export type TemplateVariables = Readonly<Record<string, string | readonly string[]>>;

/** What Grafana stores as the value of a variable's "All" option. */
export const ALL_VALUES = "$__all";

type MacroExpansion = (macroArguments: string[] | undefined, range: ResolvedRange) => string;

interface ResolvedRange {
  fromMilliseconds: number;
  toMilliseconds: number;
  intervalMilliseconds: number;
}

/**
 * Expands template variables and the ClickHouse datasource's macros in a
 * panel's SQL. Throws on an unknown $__ macro, an unknown template variable, or
 * a macro given the wrong number of arguments.
 */
export function expandGrafanaMacros(
  sql: string,
  range: TimeRange,
  templateVariables: TemplateVariables = {},
): string {
  const withConditionals = expandConditionalAll(sql, templateVariables);
  const withVariables = expandTemplateVariables(withConditionals, templateVariables);
  return expandDatasourceMacros(withVariables, resolveRange(range));
}

function resolveRange(range: TimeRange): ResolvedRange {
  const fromMilliseconds = range.from.getTime();
  const toMilliseconds = range.to.getTime();
  if (Number.isNaN(fromMilliseconds) || Number.isNaN(toMilliseconds)) {
    throw new Error("the time range has an invalid date");
  }
  if (!Number.isFinite(range.intervalSeconds) || range.intervalSeconds < 0) {
    throw new Error(`intervalSeconds must be a non-negative number, got ${range.intervalSeconds}`);
  }
  // Grafana sends the interval as whole milliseconds (intervalMs) and the
  // backend holds it as a Go time.Duration of that many milliseconds.
  const intervalMilliseconds = Math.round(range.intervalSeconds * 1000);
  return { fromMilliseconds, toMilliseconds, intervalMilliseconds };
}

// --- Frontend step 1: $__conditionalAll(condition, $variable) ---------------

const CONDITIONAL_ALL = "$__conditionalAll(";

/**
 * The plugin replaces the macro with `1=1` when the variable is "All" or empty,
 * and with the condition otherwise. It looks the variable up by stripping the
 * first character of the second argument, so only the `$name` form works; a
 * `${name}` there would silently keep the condition, hence the throw.
 */
function expandConditionalAll(sql: string, variables: TemplateVariables): string {
  let expanded = sql;
  // Last occurrence first, as the plugin does, so a nested one is expanded
  // before the one around it.
  let start = expanded.lastIndexOf(CONDITIONAL_ALL);
  while (start !== -1) {
    const argumentsStart = start + CONDITIONAL_ALL.length - 1;
    const parsed = parseArguments(expanded, argumentsStart);
    if (!parsed) throw new Error(`$__conditionalAll at ${start} has no closing bracket`);
    if (parsed.values.length !== 2) {
      throw new Error(`$__conditionalAll takes 2 arguments, got ${parsed.values.length}`);
    }
    const [condition = "", variableReference = ""] = parsed.values;
    const variableName = /^\$(\w+)$/.exec(variableReference.trim())?.[1];
    if (!variableName) {
      throw new Error(
        `$__conditionalAll needs a variable written as $name, got "${variableReference.trim()}"`,
      );
    }
    const value = variables[variableName];
    if (value === undefined) throw new Error(`unknown template variable "${variableName}"`);
    // The plugin compares String(current.value): an array joins with commas.
    const selectsEverything = [ALL_VALUES, ""].includes(String(value));
    const replacement = selectsEverything ? "1=1" : condition;
    expanded = expanded.slice(0, start) + replacement + expanded.slice(parsed.end);
    start = expanded.lastIndexOf(CONDITIONAL_ALL);
  }
  return expanded;
}

// --- Frontend step 2: Grafana template variables -----------------------------

// Grafana's variable syntaxes: $name, ${name}, ${name:format}, [[name]].
const VARIABLE_REFERENCE =
  /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/**
 * Replaces each variable with its value, formatted as the ClickHouse plugin's
 * `format` callback does: a multi-value selection becomes `'a','b'`, a single
 * value is inserted as it is. `$__name` is a datasource macro (or one of
 * Grafana's global variables), left for the next step.
 */
function expandTemplateVariables(sql: string, variables: TemplateVariables): string {
  return sql.replace(VARIABLE_REFERENCE, (reference, ...groups: (string | undefined)[]) => {
    const [plainName, bracketName, bracketFormat, braceName, fieldPath, braceFormat] = groups;
    const name = plainName ?? bracketName ?? braceName ?? "";
    if (name.startsWith("__")) {
      if (plainName !== undefined) return reference;
      // ${__from}, [[__interval]]…: Grafana's global variables, none of which
      // this dashboard uses; the macro step would not see them, so stop here.
      throw new Error(`Grafana global variables are not supported: ${reference}`);
    }
    if (bracketFormat ?? fieldPath ?? braceFormat) {
      throw new Error(`variable formats and fields are not supported: ${reference}`);
    }
    const value = variables[name];
    if (value === undefined) throw new Error(`unknown template variable "${name}"`);
    if (value === ALL_VALUES || (Array.isArray(value) && value.includes(ALL_VALUES))) {
      // Grafana would substitute every option the variable query returned, which
      // only a live dashboard knows; tests pass the list they mean instead.
      throw new Error(`"${name}" is All outside $__conditionalAll: pass its values explicitly`);
    }
    return typeof value === "string" ? value : `'${value.join("','")}'`;
  });
}

// --- Backend: the datasource's macros -----------------------------------------

function dateTime(milliseconds: number): string {
  return `toDateTime(${Math.floor(milliseconds / 1000)})`;
}

function dateTime64(milliseconds: number): string {
  return `fromUnixTimestamp64Milli(${milliseconds})`;
}

// The plugin formats dates in its process's time zone, which is UTC in the
// Grafana images; UTC is assumed here.
function date(milliseconds: number): string {
  return `toDate('${new Date(milliseconds).toISOString().slice(0, 10)}')`;
}

function wholeSeconds(range: ResolvedRange): number {
  return Math.trunc(Math.max(range.intervalMilliseconds / 1000, 1));
}

function requireArguments(
  name: string,
  macroArguments: string[] | undefined,
  count: number,
): string[] {
  const received = macroArguments?.length ?? 0;
  if (received !== count) {
    throw new Error(`$__${name} expects ${count} argument(s), received ${received}`);
  }
  return macroArguments ?? [];
}

function timeRangeFilter(name: string, format: (milliseconds: number) => string): MacroExpansion {
  return (macroArguments, range) => {
    const [column] = requireArguments(name, macroArguments, 1);
    return `${column} >= ${format(range.fromMilliseconds)} AND ${column} <= ${format(range.toMilliseconds)}`;
  };
}

function dateAndTimeFilter(name: string): MacroExpansion {
  return (macroArguments, range) => {
    const [dateColumn, timeColumn] = requireArguments(name, macroArguments, 2);
    const dates = `(${dateColumn} >= ${date(range.fromMilliseconds)} AND ${dateColumn} <= ${date(range.toMilliseconds)})`;
    const times = `(${timeColumn} >= ${dateTime(range.fromMilliseconds)} AND ${timeColumn} <= ${dateTime(range.toMilliseconds)})`;
    return `${dates} AND ${times}`;
  };
}

/** The macros of the ClickHouse datasource, by name without the `$__` prefix. */
const DATASOURCE_MACROS: Readonly<Record<string, MacroExpansion>> = {
  fromTime: (_macroArguments, range) => dateTime(range.fromMilliseconds),
  toTime: (_macroArguments, range) => dateTime(range.toMilliseconds),
  fromTime_ms: (_macroArguments, range) => dateTime64(range.fromMilliseconds),
  toTime_ms: (_macroArguments, range) => dateTime64(range.toMilliseconds),
  timeFilter: timeRangeFilter("timeFilter", dateTime),
  timeFilter_ms: timeRangeFilter("timeFilter_ms", dateTime64),
  dateFilter: timeRangeFilter("dateFilter", date),
  dateTimeFilter: dateAndTimeFilter("dateTimeFilter"),
  dt: dateAndTimeFilter("dt"),
  timeInterval: (macroArguments, range) => {
    const [column] = requireArguments("timeInterval", macroArguments, 1);
    return `toStartOfInterval(toDateTime(${column}), INTERVAL ${wholeSeconds(range)} second)`;
  },
  timeInterval_ms: (macroArguments, range) => {
    const [column] = requireArguments("timeInterval_ms", macroArguments, 1);
    const milliseconds = Math.max(range.intervalMilliseconds, 1);
    return `toStartOfInterval(toDateTime64(${column}, 3), INTERVAL ${milliseconds} millisecond)`;
  },
  interval_s: (_macroArguments, range) => String(wholeSeconds(range)),
};

export const SUPPORTED_MACROS: readonly string[] = Object.keys(DATASOURCE_MACROS);

/**
 * Mirrors sqlutil.Interpolate: macro names longest first (so `timeFilter` never
 * eats `timeFilter_ms`), a name must end at a word boundary, arguments only
 * when `(` follows the name at once, split on top-level commas and trimmed, and
 * every identical occurrence replaced by the same expansion.
 */
function expandDatasourceMacros(sql: string, range: ResolvedRange): string {
  let expanded = sql;
  const namesLongestFirst = [...SUPPORTED_MACROS].sort((left, right) => right.length - left.length);
  for (const name of namesLongestFirst) {
    const expand = DATASOURCE_MACROS[name];
    if (!expand) continue;
    const pattern = new RegExp(`\\$__${name}\\b`, "g");
    const occurrences: { text: string; macroArguments: string[] | undefined }[] = [];
    for (const match of expanded.matchAll(pattern)) {
      const nameEnd = match.index + match[0].length;
      if (expanded[nameEnd] !== "(") {
        occurrences.push({ text: match[0], macroArguments: undefined });
        continue;
      }
      const parsed = parseArguments(expanded, nameEnd);
      if (!parsed) throw new Error(`$__${name} at ${match.index} has no closing bracket`);
      occurrences.push({
        text: expanded.slice(match.index, parsed.end),
        macroArguments: parsed.values.map((value) => value.trim()),
      });
    }
    for (const occurrence of occurrences) {
      const replacement = expand(occurrence.macroArguments, range);
      // A function replacement: `$` in the expansion must stay literal.
      expanded = expanded.replaceAll(occurrence.text, () => replacement);
    }
  }
  const unknown = /\$__\w+/.exec(expanded);
  if (unknown) {
    throw new Error(
      `unknown macro ${unknown[0]}; the ClickHouse datasource knows $__${SUPPORTED_MACROS.join(", $__")}`,
    );
  }
  return expanded;
}

/**
 * Splits the bracketed list that opens at `openIndex` on its top-level commas.
 * Returns undefined when the bracket never closes.
 */
function parseArguments(
  text: string,
  openIndex: number,
): { values: string[]; end: number } | undefined {
  const values: string[] = [];
  let depth = 0;
  let current = "";
  for (let index = openIndex; index < text.length; index += 1) {
    const character = text[index];
    if (character === "(") {
      depth += 1;
      if (depth === 1) continue;
    } else if (character === ")") {
      depth -= 1;
      if (depth === 0) {
        values.push(current);
        return { values, end: index + 1 };
      }
    } else if (character === "," && depth === 1) {
      values.push(current);
      current = "";
      continue;
    }
    current += character;
  }
  return undefined;
}
