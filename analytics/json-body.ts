// The analytics API's JSON body parser: fastify's own (a __proto__ or
// constructor.prototype key refused) behind a nesting bound. JSON.parse spends
// about a second on a megabyte of nested brackets, blocking every other
// query; the deepest body this API reads (a what-if: body, moves, a move, its
// price) nests four levels. One linear pass over the text refuses a deeper
// body before anything is built from it.
import type { FastifyInstance } from "fastify";
import { ParameterError } from "./errors.ts";

/** Four levels are read; the rest is room for a client's harmless extra wrapping to fail validation by name. */
export const MAX_BODY_DEPTH = 16;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]); // [ {
const CLOSERS = new Set([0x5d, 0x7d]); // ] }

/** Whether `text` nests arrays and objects deeper than `limit`, brackets inside strings aside. */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text.charCodeAt(index);
    if (inString) {
      // A backslash skips the character it escapes, a quote included.
      if (char === BACKSLASH) index++;
      else if (char === QUOTE) inString = false;
    } else if (char === QUOTE) {
      inString = true;
    } else if (OPENERS.has(char)) {
      depth++;
      if (depth > limit) return true;
    } else if (CLOSERS.has(char)) {
      depth--;
    }
  }
  return false;
}

/** application/json and nothing else: any other content type answers 415 (errors.ts). */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (nestsDeeperThan(body as string, MAX_BODY_DEPTH)) {
      done(
        new ParameterError("body", `the body nests more than ${MAX_BODY_DEPTH} levels deep`),
        undefined,
      );
      return;
    }
    parseJson(request, body as string, done);
  });
}
