// SQL with the parameters it names, built without side effects: a fragment
// carries its own parameters, and putting fragments together merges them.

/** A statement or a piece of one, and the values of the `{name:Type}` parameters it names. */
export interface BoundQuery {
  readonly sql: string;
  readonly params: Readonly<Record<string, unknown>>;
}

export const EMPTY: BoundQuery = { sql: "", params: {} };

/** Text and parameters as one fragment. */
export function bound(sql: string, params: Record<string, unknown> = {}): BoundQuery {
  return { sql, params };
}

function sameValue(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  // Dates and arrays of strings: equal when they serialize alike.
  return JSON.stringify(left) === JSON.stringify(right);
}

/**
 * The parameters of every part, in one object. A name two parts bind must
 * have the same value in both (the tenant scope is named by every table a
 * query reads); two values under one name would bind one of them silently to
 * both places, so that throws.
 */
export function mergeParams(
  parts: readonly Readonly<Record<string, unknown>>[],
): Record<string, unknown> {
  const merged: Record<string, unknown> = {};
  for (const params of parts) {
    for (const [name, value] of Object.entries(params)) {
      if (name in merged && !sameValue(merged[name], value)) {
        throw new Error(`query parameter ${name} bound twice with different values`);
      }
      merged[name] = value;
    }
  }
  return merged;
}

/**
 * A tagged template: `sql\`SELECT … WHERE ${window}${filters}\``. A fragment
 * interpolated adds its text and its parameters; a string is inserted as it
 * is, so strings must come from the builders' fixed maps, never from a
 * caller's text (values are always parameters).
 */
export function sql(
  strings: TemplateStringsArray,
  ...parts: readonly (BoundQuery | string)[]
): BoundQuery {
  let text = strings[0] ?? "";
  const params: Readonly<Record<string, unknown>>[] = [];
  parts.forEach((part, index) => {
    if (typeof part === "string") {
      text += part;
    } else {
      text += part.sql;
      params.push(part.params);
    }
    text += strings[index + 1] ?? "";
  });
  return { sql: text, params: mergeParams(params) };
}

/** Fragments joined by `separator`, their parameters merged. */
export function joinSql(parts: readonly BoundQuery[], separator: string): BoundQuery {
  return {
    sql: parts.map((part) => part.sql).join(separator),
    params: mergeParams(parts.map((part) => part.params)),
  };
}
