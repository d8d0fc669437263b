// The gateway's JSON body parser: fastify's own (prototype poisoning refused),
// behind a depth check. JSON.parse takes seconds on a body of millions of
// nested brackets (4.7 s for 8 MB of `[`), and what it builds overflows the
// stack of every recursive walk after it (JSON.stringify of the upstream
// body, Ajv, the adapters' translations). One pass over the text finds the
// depth first, with `indexOf` jumping over strings, so a hostile body costs
// what reading it costs and nothing is built from it.
import type { FastifyInstance } from "fastify";
import { GatewayError } from "../errors.ts";
import { formatParameterPath } from "./inbound-api.ts";

/**
 * The deepest nesting of objects and arrays a body may have. A tool's JSON
 * Schema nests two levels per level of its own (`properties`, then the
 * property's schema), and the body puts it five down
 * (`tools[0].function.parameters.properties`): 128 leaves room for a schema
 * sixty levels deep, six times what OpenAI's strict mode accepts.
 */
export const MAX_JSON_DEPTH = 128;

/** How many levels of the path an error names: enough to find the field, bounded whatever the depth. */
const NAMED_PATH_SEGMENTS = 8;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * Where `text` first nests deeper than `maxDepth`: the offset of the bracket
 * that goes too deep, or -1. Linear: each string is skipped with one
 * `indexOf` per quote inside it, each backslash counted once. Malformed JSON
 * is left for JSON.parse to refuse.
 */
export function offsetTooDeep(text: string, maxDepth: number = MAX_JSON_DEPTH): number {
  let depth = 0;
  const length = text.length;
  for (let index = 0; index < length; index++) {
    const code = text.charCodeAt(index);
    if (code === QUOTE) {
      index = closingQuoteOf(text, index);
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) return index;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth -= 1;
    }
  }
  return -1;
}

/** The offset of the quote closing the string opened at `opening`, or the end of the text. */
function closingQuoteOf(text: string, opening: number): number {
  let quote = text.indexOf('"', opening + 1);
  while (quote !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return text.length;
}

interface Level {
  isArray: boolean;
  index: number;
  /** The key being read or last read at this level (objects), as written in the text. */
  key: string;
  expectsKey: boolean;
}

/**
 * The path to the container that holds the too-deep bracket at `offset`,
 * its first NAMED_PATH_SEGMENTS segments only. Run once, on the way to a
 * 400, so the happy path pays nothing for it; linear like the scan.
 */
export function pathTo(text: string, offset: number): (string | number)[] {
  const levels: Level[] = [];
  for (let index = 0; index < offset; index++) {
    const code = text.charCodeAt(index);
    const level = levels.at(-1);
    if (code === QUOTE) {
      const closing = closingQuoteOf(text, index);
      if (level && !level.isArray && level.expectsKey && levels.length <= NAMED_PATH_SEGMENTS) {
        level.key = text.slice(index + 1, closing);
        level.expectsKey = false;
      }
      index = closing;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      levels.push({ isArray: code === OPEN_BRACKET, index: 0, key: "", expectsKey: true });
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      levels.pop();
    } else if (code === COMMA && level) {
      if (level.isArray) level.index += 1;
      else level.expectsKey = true;
    }
  }
  return levels
    .slice(0, NAMED_PATH_SEGMENTS)
    .map((level) => (level.isArray ? level.index : level.key));
}

/** The 400 for a body nested too deep, naming the field where it happens. */
export function tooDeepError(text: string, offset: number): GatewayError {
  const path = pathTo(text, offset);
  const param = path.length > 0 ? formatParameterPath(path) : null;
  return new GatewayError(
    "invalid_request",
    `Invalid value for '${param ?? "body"}': JSON nested more than ${MAX_JSON_DEPTH} levels deep; the gateway accepts at most ${MAX_JSON_DEPTH}.`,
    { param },
  );
}

/**
 * Replaces fastify's application/json parser with the same parser behind
 * the depth check. Fastify reads the body as a string within bodyLimit
 * first, and only after the onRequest hooks (auth.ts) have let it in.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  // Fastify's defaults: a body carrying __proto__ or constructor.prototype is refused.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = body as string;
    const offset = offsetTooDeep(text);
    if (offset !== -1) {
      done(tooDeepError(text, offset), undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
