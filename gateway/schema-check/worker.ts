// The schema checker's thread (schema-checker.ts starts it): compiles
// clients' JSON Schemas and validates answers against them, one check at a
// time, off the gateway's event loop. Nothing here is bounded in time; the
// gateway's side is, and ends this thread when a check runs too long.
import { parentPort } from "node:worker_threads";
import { describeSchemaError } from "./schema-errors.ts";
import { ValidatorCache } from "./validator-cache.ts";

/** A check, as the gateway posts it. */
export interface CheckRequest {
  id: number;
  /** SHA-256 of schemaJson: the cache's key. */
  key: string;
  schemaJson: string;
  /** The answer's text, which the gateway has already found to be JSON. */
  text: string;
}

export type CheckVerdict =
  | { kind: "valid" }
  | { kind: "invalid"; comment: string }
  | { kind: "refused"; reason: "unsupported_pattern" | "schema_not_compiled" | "checker_failed" };

/** What the thread posts: once that it is ready, then per check its verdict. */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "verdict"; id: number; verdict: CheckVerdict };

const port = parentPort;
if (!port) throw new Error("schema-check/worker.ts runs as a worker thread");
const cache = new ValidatorCache();

port.on("message", (request: CheckRequest) => {
  port.postMessage({ type: "verdict", id: request.id, verdict: check(request) });
});
port.postMessage({ type: "ready" } satisfies WorkerMessage);

function check(request: CheckRequest): CheckVerdict {
  const compiled = cache.get(request.key, request.schemaJson);
  if ("refused" in compiled) return { kind: "refused", reason: compiled.refused };
  try {
    const answer: unknown = JSON.parse(request.text);
    if (compiled.validate(answer) === true) return { kind: "valid" };
    const error = compiled.validate.errors?.[0];
    return {
      kind: "invalid",
      comment: error
        ? describeSchemaError(error, answer, compiled.declared)
        : "/ does not satisfy the schema",
    };
  } catch {
    // An answer nested deeper than the validator's recursion reaches, and the like.
    return { kind: "refused", reason: "checker_failed" };
  }
}
