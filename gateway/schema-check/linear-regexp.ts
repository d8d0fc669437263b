// Clients' JSON Schema patterns (`pattern`, `patternProperties`) on RE2, a
// linear-time engine: Ajv's `code.regExp` engine, so no pattern a client
// sends ever runs on JavaScript's backtracking engine ("^(a+)+$" against 27
// `a`s and a `!` took 19.5 s there; here, microseconds).
//
// JSON Schema patterns are ECMAScript regular expressions (Ajv compiles them
// with the `u` flag); RE2's syntax differs, so a pattern is first checked to
// be valid ECMAScript (parsing only: it is never executed) and then written
// in RE2's syntax with ECMAScript's meaning. What RE2 cannot do in linear time
// (backreferences, lookaround) or has no equal for throws
// UnsupportedPatternError, and the schema check is skipped with that reason:
// never a fallback to the backtracking engine.
import type { RegExpEngine, RegExpLike } from "ajv/dist/types/index.js";
import { RE2JS } from "re2js";

/** Why a pattern cannot run on the linear engine; the pattern itself is never in it. */
export type UnsupportedPatternReason =
  | "not_ecmascript"
  | "backreference"
  | "lookaround"
  | "negated_class_in_class"
  | "unknown_property"
  | "beyond_re2";

export class UnsupportedPatternError extends Error {
  override name = "UnsupportedPatternError";
  constructor(readonly reason: UnsupportedPatternReason) {
    super(`a pattern the linear-time engine cannot run (${reason})`);
  }
}

// ECMAScript's \s: WhiteSpace and LineTerminator (ECMA-262 §12.2, §12.3), as RE2 class items.
const WHITE_SPACE =
  "\\t\\n\\v\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";
// ECMAScript's `.` without the s flag: anything but a line terminator (RE2's: anything but \n).
const DOT = "[^\\n\\r\\x{2028}\\x{2029}]";
const ANYTHING = "[\\x{0}-\\x{10ffff}]";
const NOTHING = "[^\\x{0}-\\x{10ffff}]";
const SYNTAX_CHARACTERS = new Set("^$\\.*+?()[]{}|/-");
const SHORTHAND_CLASSES = new Set("dDwW");
const CONTROL_ESCAPES: Record<string, string> = {
  t: "\\t",
  n: "\\n",
  v: "\\v",
  f: "\\f",
  r: "\\r",
};

/**
 * The pattern in RE2's syntax, matching what ECMAScript's `new RegExp(pattern, "u")`
 * matches. Throws UnsupportedPatternError.
 */
export function toRe2Syntax(pattern: string): string {
  try {
    // Parsed, never executed: construction does not run the backtracking matcher.
    new RegExp(pattern, "u");
  } catch {
    throw new UnsupportedPatternError("not_ecmascript");
  }
  // Code points: a `u` pattern reads a surrogate pair as one character, as RE2 does.
  const characters = Array.from(pattern);
  let written = "";
  let inClass = false;
  let index = 0;
  while (index < characters.length) {
    const character = characters[index] as string;
    if (character === "\\") {
      const translated = translateEscape(characters, index + 1, inClass);
      written += translated.text;
      index = translated.next;
      continue;
    }
    index += 1;
    if (inClass) {
      if (character === "]") inClass = false;
      // RE2 reads `[:alpha:]` inside a class as a POSIX class; ECMAScript as characters.
      written += character === "[" ? "\\[" : character;
      continue;
    }
    if (character === "[") {
      // `[]` matches nothing and `[^]` anything; RE2 reads both as the start of a class.
      if (characters[index] === "]") {
        written += NOTHING;
        index += 1;
      } else if (characters[index] === "^" && characters[index + 1] === "]") {
        written += ANYTHING;
        index += 2;
      } else {
        inClass = true;
        written += "[";
        if (characters[index] === "^") {
          written += "^";
          index += 1;
        }
      }
    } else if (character === ".") {
      written += DOT;
    } else if (character === "(" && characters[index] === "?") {
      const next = characters[index + 1];
      const after = characters[index + 2];
      if (next === "=" || next === "!" || (next === "<" && (after === "=" || after === "!"))) {
        throw new UnsupportedPatternError("lookaround");
      }
      written += character;
    } else {
      written += character;
    }
  }
  return written;
}

/** One escape sequence starting after its backslash: its RE2 text and where the pattern goes on. */
function translateEscape(
  characters: readonly string[],
  start: number,
  inClass: boolean,
): { text: string; next: number } {
  const escaped = characters[start] ?? "";
  const next = start + 1;
  if (escaped === "0" && !/^[0-9]$/.test(characters[next] ?? "")) return { text: "\\x{0}", next };
  if (/^[1-9]$/.test(escaped) || escaped === "k")
    throw new UnsupportedPatternError("backreference");
  if (escaped === "b") return { text: inClass ? "\\x{8}" : "\\b", next };
  if (escaped === "B" || SHORTHAND_CLASSES.has(escaped)) return { text: `\\${escaped}`, next };
  if (escaped === "s") return { text: inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`, next };
  if (escaped === "S") {
    // RE2 has no way to put a negated class inside a class.
    if (inClass) throw new UnsupportedPatternError("negated_class_in_class");
    return { text: `[^${WHITE_SPACE}]`, next };
  }
  const control = CONTROL_ESCAPES[escaped];
  if (control) return { text: control, next };
  if (escaped === "c") {
    const letter = (characters[next] ?? "").codePointAt(0) ?? 0;
    return { text: codePoint(letter % 32), next: next + 1 };
  }
  if (escaped === "x") {
    return { text: codePoint(hexAt(characters, next, 2)), next: next + 2 };
  }
  if (escaped === "u") return unicodeEscape(characters, next);
  if (escaped === "p" || escaped === "P") return propertyEscape(characters, escaped, next);
  if (SYNTAX_CHARACTERS.has(escaped)) return { text: `\\${escaped}`, next };
  // ECMAScript's `u` mode allows no other escape, so the check above refused it already.
  throw new UnsupportedPatternError("not_ecmascript");
}

/** `\uXXXX`, a surrogate pair of them, or `\u{X…}`. */
function unicodeEscape(
  characters: readonly string[],
  start: number,
): { text: string; next: number } {
  if (characters[start] === "{") {
    const close = characters.indexOf("}", start);
    const digits = characters.slice(start + 1, close).join("");
    return { text: codePoint(Number.parseInt(digits, 16)), next: close + 1 };
  }
  const unit = hexAt(characters, start, 4);
  const after = start + 4;
  if (
    unit >= 0xd800 &&
    unit <= 0xdbff &&
    characters[after] === "\\" &&
    characters[after + 1] === "u"
  ) {
    const low = hexAt(characters, after + 2, 4);
    if (low >= 0xdc00 && low <= 0xdfff) {
      return {
        text: codePoint((unit - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000),
        next: after + 6,
      };
    }
  }
  return { text: codePoint(unit), next: after };
}

/** `\p{…}`: general categories and scripts mean the same in both engines; nothing else is taken. */
function propertyEscape(
  characters: readonly string[],
  letter: string,
  start: number,
): { text: string; next: number } {
  const close = characters.indexOf("}", start);
  const body = characters.slice(start + 1, close).join("");
  const [name, value] = body.includes("=") ? body.split("=") : [null, body];
  const known =
    name === null ||
    name === "General_Category" ||
    name === "gc" ||
    name === "Script" ||
    name === "sc";
  if (!known || !value || !/^[A-Za-z_]+$/.test(value)) {
    throw new UnsupportedPatternError("unknown_property");
  }
  return { text: `\\${letter}{${value}}`, next: close + 1 };
}

function hexAt(characters: readonly string[], start: number, length: number): number {
  return Number.parseInt(characters.slice(start, start + length).join(""), 16);
}

function codePoint(value: number): string {
  return `\\x{${value.toString(16)}}`;
}

/** A compiled pattern, on RE2: `test` is linear in the input's length. */
export function compileLinear(pattern: string): RegExpLike {
  const translated = toRe2Syntax(pattern);
  try {
    return RE2JS.compile(translated);
  } catch {
    // Names RE2 does not know (\p{Letter}), repeats over 1,000, and the like.
    throw new UnsupportedPatternError("beyond_re2");
  }
}

/**
 * Ajv's `code.regExp`. Ajv reads `code` only when it writes standalone
 * validation code, which the gateway never does.
 */
export const linearRegExp: RegExpEngine = Object.assign(
  (pattern: string): RegExpLike => compileLinear(pattern),
  { code: "linearRegExp" },
);
