// The schema checker's thread (schema-checker.ts starts it): compiles
// clients' JSON Schemas and validates answers against them, one check at a
// time, off the gateway's event loop. Nothing here is bounded in time; the
// gateway's side is, and ends this thread when a check runs too long.
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parentPort, workerData } from "node:worker_threads";
import { describeSchemaError } from "./schema-errors.ts";
import { type GenerationLimits, ValidatorCache } from "./validator-cache.ts";

/** What the thread is started with. */
export interface WorkerOptions {
  generationLimits?: GenerationLimits;
}

/** What the gateway posts: checks, and (tests) a request for the heap in use. */
export type WorkerRequest = CheckRequest | { type: "heap" };

/** A check, as the gateway posts it. */
export interface CheckRequest {
  type: "check";
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
  | { type: "verdict"; id: number; verdict: CheckVerdict }
  | { type: "heap"; usedBytes: number };

const port = parentPort;
if (!port) throw new Error("schema-check/worker.ts runs as a worker thread");
const options = (workerData ?? {}) as WorkerOptions;
const cache = new ValidatorCache(options.generationLimits);

port.on("message", (request: WorkerRequest) => {
  if (request.type === "heap") {
    port.postMessage({ type: "heap", usedBytes: heapAfterCollection() } satisfies WorkerMessage);
    return;
  }
  port.postMessage({
    type: "verdict",
    id: request.id,
    verdict: check(request),
  } satisfies WorkerMessage);
});
port.postMessage({ type: "ready" } satisfies WorkerMessage);

/** The heap in use after a full collection: what the thread really holds. */
function heapAfterCollection(): number {
  setFlagsFromString("--expose-gc");
  const collect = runInNewContext("gc") as () => void;
  collect();
  collect();
  return getHeapStatistics().used_heap_size;
}

function check(request: CheckRequest): CheckVerdict {
  const compiled = cache.get(request.key, request.schemaJson);
  if ("refused" in compiled) return { kind: "refused", reason: compiled.refused };
  try {
    const answer: unknown = JSON.parse(request.text);
    if (compiled.validate(answer) === true) return { kind: "valid" };
    // The outermost failure: anyOf's rather than its first branch's.
    const error = compiled.validate.errors?.at(-1);
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
