// One record of the local log is one line of a segment file:
//
//     <escaped key> TAB <escaped value> LF
//
// UTF-8. In both key and value, backslash becomes `\\`, LF becomes `\n` and TAB
// becomes `\t`; nothing else changes. So a line never holds a raw LF (the LF
// ends it, and a reader can tell a complete record from a torn one), the first
// raw TAB splits key from value, and a value is the event's JSON text exactly
// as given. Events from `JSON.stringify` hold no raw LF or TAB, so a segment
// stays readable with `tail -f` and `cut -f2 | jq`; only their `\"` and `\\`
// escapes gain a backslash.

const LINE_FEED = 0x0a;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const NEEDS_ESCAPING = /[\\\n\t]/;
const ESCAPABLE = /[\\\n\t]/g;
const ESCAPED = /\\(.)/gs;

function escapeField(text: string): string {
  if (!NEEDS_ESCAPING.test(text)) return text;
  return text.replace(ESCAPABLE, (character) =>
    character === "\n" ? "\\n" : character === "\t" ? "\\t" : "\\\\",
  );
}

function unescapeField(text: string): string {
  return text.replace(ESCAPED, (_, character: string) =>
    character === "n" ? "\n" : character === "t" ? "\t" : character,
  );
}

/** The bytes of one record, LF included. */
export function encodeRecordLine(key: string, value: string): Buffer {
  return Buffer.from(`${escapeField(key)}\t${escapeField(value)}\n`, "utf8");
}

/** Splits one line (without its LF) back into key and value bytes. */
export function decodeRecordLine(line: Buffer): { key: string; value: Buffer } {
  const tabIndex = line.indexOf(TAB);
  if (tabIndex < 0) {
    throw new Error(
      `local log line has no TAB between key and value: ${line.toString("utf8", 0, 80)}`,
    );
  }
  const escapedKey = line.toString("utf8", 0, tabIndex);
  const escapedValue = line.subarray(tabIndex + 1);
  const key = escapedKey.includes("\\") ? unescapeField(escapedKey) : escapedKey;
  // Most values have no escape, so their bytes are used as they lie in the file.
  const value = escapedValue.includes(BACKSLASH)
    ? Buffer.from(unescapeField(escapedValue.toString("utf8")), "utf8")
    : escapedValue;
  return { key, value };
}

export { LINE_FEED };
