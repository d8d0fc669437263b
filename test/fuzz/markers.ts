// Markers seeded into what clients and vendors send, drawn once per process:
// no event may carry one (README, Privacy: no prompt or completion text is
// stored). Letters and digits only, so JSON and SSE keep them whole, and short
// enough that a message quoting the start of a text (a JSON parse error) quotes
// the whole marker.
import { randomBytes } from "node:crypto";

const tag = () => randomBytes(4).toString("hex");

/** In every text a client sends: messages, system prompts, tool descriptions, embeddings input. */
export const PROMPT_MARKER = `Zp${tag()}`;
/** In every text a vendor answers: content, reasoning, tool arguments, a usage counter written as text. */
export const ANSWER_MARKER = `Za${tag()}`;
/** In a vendor's error messages, which may quote the prompt. */
export const VENDOR_ERROR_MARKER = `Ze${tag()}`;

/** A run that `^(a+)+$` takes exponential time to refuse on a backtracking engine. */
export const pathologicalRun = `${"a".repeat(27)}!`;

/** Which markers a serialized record carries. */
export function markersIn(text: string): string[] {
  return [PROMPT_MARKER, ANSWER_MARKER, VENDOR_ERROR_MARKER].filter((marker) =>
    text.includes(marker),
  );
}
