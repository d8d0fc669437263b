// Compiled JSON Schema validators, kept in two generations so memory stays
// bounded whatever schemas clients send. Ajv keeps every schema it compiled
// (its cache, the code's shared scope) for as long as the Ajv instance lives,
// so evicting a validator from a map of our own frees nothing. Instead each
// generation has its own Ajv: when the current one holds its count of
// validators or of schema characters, or the thread's heap passed its budget,
// it becomes the previous one, and the one before is dropped whole, Ajv and
// all. A schema used again after its generation went is compiled again.
//
// The heap budget is what holds when schemas are costly: a compiled schema
// takes about 11 KB per pattern (RE2's program) and 1 KB per property,
// 150 times its JSON; 1,000 unique 100-pattern schemas took 1.2 GB in one Ajv.
import { getHeapStatistics } from "node:v8";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { linearRegExp, UnsupportedPatternError } from "./linear-regexp.ts";
import { declaredNamesOf } from "./schema-errors.ts";

export type CompileRefusal = "unsupported_pattern" | "schema_not_compiled";

export type CompiledSchema =
  | { validate: ValidateFunction; declared: ReadonlySet<string> }
  | { refused: CompileRefusal };

export interface GenerationLimits {
  /** Validators per generation. */
  schemas: number;
  /** Characters of schema JSON per generation. */
  characters: number;
  /** Bytes of heap in use past which a new generation starts (checked before each compile). */
  heapBytes: number;
}

export const DEFAULT_GENERATION_LIMITS: GenerationLimits = {
  schemas: 128,
  characters: 1024 * 1024,
  heapBytes: 64 * 1024 * 1024,
};

interface Generation {
  ajv: Ajv2020;
  compiled: Map<string, CompiledSchema>;
  characters: number;
}

export class ValidatorCache {
  private current: Generation = newGeneration();
  private previous: Generation | null = null;

  constructor(
    private readonly limits: GenerationLimits = DEFAULT_GENERATION_LIMITS,
    private readonly heapUsed: () => number = () => getHeapStatistics().used_heap_size,
  ) {}

  /** The validator of the schema `key` names, compiled from `schemaJson` when neither generation has it. */
  get(key: string, schemaJson: string): CompiledSchema {
    const known = this.current.compiled.get(key) ?? this.previous?.compiled.get(key);
    if (known) return known;
    if (
      this.current.compiled.size >= this.limits.schemas ||
      this.current.characters + schemaJson.length > this.limits.characters ||
      this.heapUsed() > this.limits.heapBytes
    ) {
      this.previous = this.current;
      this.current = newGeneration();
    }
    const compiled = compile(this.current.ajv, schemaJson);
    this.current.compiled.set(key, compiled);
    this.current.characters += schemaJson.length;
    return compiled;
  }

  /** Validators held, both generations (for tests). */
  get size(): number {
    return this.current.compiled.size + (this.previous?.compiled.size ?? 0);
  }
}

function compile(ajv: Ajv2020, schemaJson: string): CompiledSchema {
  let schema: unknown;
  try {
    schema = JSON.parse(schemaJson);
    return { validate: ajv.compile(schema as object), declared: declaredNamesOf(schema) };
  } catch (error) {
    // Also a stack overflow on a schema too large or deep for Ajv's code generator.
    return {
      refused:
        error instanceof UnsupportedPatternError ? "unsupported_pattern" : "schema_not_compiled",
    };
  }
}

function newGeneration(): Generation {
  const ajv = new Ajv2020({
    allErrors: false,
    // Not strict: clients' schemas carry vendor keywords (OpenAI's `strict`, titles, …).
    strict: false,
    validateSchema: false,
    addUsedSchema: false,
    // Comments are written from keywords and pointers (schema-errors.ts), never Ajv's messages.
    messages: false,
    // Own properties only: an answer's `__proto__` key is data, not a prototype.
    ownProperties: true,
    // Ajv's optimiser made compiling a 2,000-property schema 10 times slower (4.1 s, not 0.4 s).
    code: { optimize: false, regExp: linearRegExp },
  });
  // The `ajv-formats` CommonJS default export arrives wrapped under NodeNext typing.
  const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
  addFormats(ajv);
  return { ajv, compiled: new Map(), characters: 0 };
}
