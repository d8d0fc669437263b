// Token counts for the gateway's usage estimates, in time linear in the text
// whatever it holds. gpt-tokenizer's byte-pair merge is quadratic in the
// length of one piece of the o200k split, and the split leaves runs of
// letters, punctuation and whitespace with no word boundary whole: 100,000
// `x`s took 5 s to count, 100,000 CJK characters (which have no spaces) 31 s,
// the event loop blocked all along, where 100,000 characters of prose take
// 2 ms. So text is handed to the tokenizer in pieces cut where the split cuts
// anyway (before a space that follows a non-space), which leaves the count of
// ordinary text exact; a run longer than MAX_RUN is cut every MAX_RUN
// characters (a token more per cut at most); and one counter counts at most
// MAX_COUNTED_CHARACTERS exactly, the rest at the rate it counted so far
// (even cut short, random CJK costs the tokenizer about 1.5 µs a character).
import { countTokens } from "gpt-tokenizer";

/** The longest run without a word boundary counted at once (≈ 30 µs even for CJK). */
export const MAX_RUN = 64;
/** Characters per call of the tokenizer: whole words only, so the count is the tokenizer's. */
const PIECE_CHARACTERS = 2048;
/** Characters one counter counts exactly (≈ 12,000 tokens of prose; at most ≈ 70 ms). */
export const MAX_COUNTED_CHARACTERS = 49_152;
/** Tokens per character before anything was counted: OpenAI's rule of thumb. */
const DEFAULT_TOKENS_PER_CHARACTER = 0.25;

const SPACE = 0x20;

function isWhitespace(code: number): boolean {
  return code === SPACE || (code >= 0x09 && code <= 0x0d) || code === 0xa0 || code === 0x3000;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Counts the tokens of several texts (an answer, then its prompt's parts)
 * within one budget of MAX_COUNTED_CHARACTERS; what is past it is
 * extrapolated. One counter per estimate.
 */
export class TokenCounter {
  private countedCharacters = 0;
  private countedTokens = 0;

  count(text: string): number {
    let tokens = 0;
    let pieceStart = 0;
    let runStart = 0;
    let index = 0;
    const length = text.length;
    const flush = (end: number) => {
      if (end > pieceStart) {
        const counted = countTokens(text.slice(pieceStart, end));
        tokens += counted;
        this.countedTokens += counted;
        this.countedCharacters += end - pieceStart;
      }
      pieceStart = end;
    };
    for (; index < length; index++) {
      if (this.countedCharacters + (index - pieceStart) >= MAX_COUNTED_CHARACTERS) break;
      const code = text.charCodeAt(index);
      // A word boundary the tokenizer's split also has: before " word".
      if (code === SPACE && index > 0 && !isWhitespace(text.charCodeAt(index - 1))) {
        runStart = index;
        if (index - pieceStart >= PIECE_CHARACTERS) flush(index);
      } else if (index - runStart >= MAX_RUN) {
        // A run with no boundary: cut, never inside a surrogate pair.
        const cut = isHighSurrogate(text.charCodeAt(index - 1)) ? index - 1 : index;
        flush(cut);
        runStart = cut;
      }
    }
    flush(index);
    if (index < length) tokens += Math.ceil((length - index) * this.tokensPerCharacter());
    return tokens;
  }

  private tokensPerCharacter(): number {
    return this.countedCharacters > 0
      ? this.countedTokens / this.countedCharacters
      : DEFAULT_TOKENS_PER_CHARACTER;
  }
}

/** The tokens of one text, in linear time (TokenCounter). */
export function countTokensLinear(text: string): number {
  return new TokenCounter().count(text);
}
