// CSV injection (OWASP "CSV Injection"): a spreadsheet opening a CSV runs a
// cell that starts with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(…)`,
// `=cmd|…`), and some treat a leading tab or carriage return the same way.
// Every CSV the product writes passes its text cells through this one rule:
// such a cell is prefixed with a single quote, which spreadsheets read as
// "this is text" and do not show. The rule lives here twice, once for cells
// written in JS (the vendor brief, with csv-stringify) and once as SQL for
// cells ClickHouse writes (the CSV export), and a test holds the two equal.
//
// Numbers are data, not formulas, and must stay numbers: a refund of -5 or a
// delta of -0.25 prefixed with a quote would become text a spreadsheet cannot
// sum. So the rule touches text only — a cell that is not a plain decimal
// number (`-5`, `-0.25`): JS numbers and ClickHouse's numeric columns are
// never changed, and a text cell holding exactly a negative decimal (money
// is a decimal string in JSON and in the brief) is left as the number it is.
// `-5+A1`, `-x`, `+1` and `@SUM(…)` are not plain numbers and are prefixed.
import { stringify } from "csv-stringify/sync";

/** The characters OWASP lists: a cell starting with one is a formula to a spreadsheet. */
export const FORMULA_TRIGGERS = ["=", "+", "-", "@", "\t", "\r"] as const;

const PLAIN_NEGATIVE_NUMBER = /^-\d+(\.\d+)?$/;

/** A text cell made safe to open in a spreadsheet; anything else as it is. */
export function neutraliseCell(text: string): string {
  const first = text.charAt(0);
  if (!(FORMULA_TRIGGERS as readonly string[]).includes(first)) return text;
  return PLAIN_NEGATIVE_NUMBER.test(text) ? text : `'${text}`;
}

/**
 * The same rule as a ClickHouse expression over a String (or Nullable,
 * LowCardinality) column: NULL stays NULL (an empty field: formats.ts). `column` is an
 * identifier of ours, never a caller's text.
 */
export function neutraliseCellSql(column: string): string {
  const triggers = FORMULA_TRIGGERS.map((trigger) =>
    trigger === "\t" ? "'\\t'" : trigger === "\r" ? "'\\r'" : `'${trigger}'`,
  ).join(", ");
  return `if(substring(${column}, 1, 1) IN (${triggers}) AND NOT match(${column}, '^-[0-9]+([.][0-9]+)?$'), concat('''', ${column}), ${column})`;
}

/** Whether a ClickHouse column type holds text the rule applies to (wrappers aside). */
export function isTextType(type: string): boolean {
  const base = type.replace(/^(?:LowCardinality\(|Nullable\()+/, "").replace(/\)+$/, "");
  return base === "String" || base.startsWith("FixedString(");
}

/**
 * Rows as CSV (comma, `\n`, quoted only when a cell needs it), every text
 * cell neutralised; numbers and booleans as JS writes them, null and
 * undefined empty.
 */
export function toCsv(rows: unknown[][]): string {
  return stringify(rows, {
    cast: {
      string: (value) => neutraliseCell(value),
      boolean: (value) => String(value),
      number: (value) => String(value),
      bigint: (value) => String(value),
    },
  });
}
