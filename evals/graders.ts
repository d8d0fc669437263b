// The graders: each reads an answer's text and gives a score, a pass, and
// (when it fails) why. All but the judge are pure; the judge's prompt and the
// reading of its answer are here, its call goes through the gateway (runner.ts).
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { GraderSpec } from "./gold-set.ts";

export type Score =
  | { type: "boolean"; boolean: boolean }
  | { type: "number"; number: number; minimum: number; maximum: number };

export interface Grade {
  score: Score;
  passed: boolean;
  /** Why it failed, short; null when it passed. */
  comment: string | null;
}

type Spec<T extends GraderSpec["type"]> = Extract<GraderSpec, { type: T }>;

const boolean = (passed: boolean, comment: string | null): Grade => ({
  score: { type: "boolean", boolean: passed },
  passed,
  comment: passed ? null : comment,
});

const MAX_QUOTE = 80;
function quote(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(flat.length > MAX_QUOTE ? `${flat.slice(0, MAX_QUOTE)}…` : flat);
}

/** The whole answer, trimmed, equals the expected text (trimmed). */
export function gradeExact(spec: Spec<"exact">, answer: string): Grade {
  const fold = (text: string) => (spec.ignore_case ? text.trim().toLowerCase() : text.trim());
  return boolean(fold(answer) === fold(spec.expected), `answered ${quote(answer)}`);
}

export function gradeContains(spec: Spec<"contains">, answer: string): Grade {
  const fold = (text: string) => (spec.ignore_case ? text.toLowerCase() : text);
  return boolean(
    fold(answer).includes(fold(spec.expected)),
    `no ${quote(spec.expected)} in ${quote(answer)}`,
  );
}

export function gradeRegex(spec: Spec<"regex">, answer: string): Grade {
  // `g` and `y` make test() stateful; a grader must not depend on the last call.
  const pattern = new RegExp(spec.pattern, spec.flags.replace(/[gy]/g, ""));
  return boolean(pattern.test(answer), `${quote(answer)} does not match /${spec.pattern}/`);
}

const FENCED = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/;

/** The answer parses as JSON (inside one ``` fence or bare) and satisfies the schema. */
export function gradeJsonSchema(spec: Spec<"json_schema">, answer: string): Grade {
  const text = FENCED.exec(answer)?.[1] ?? answer;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return boolean(false, `not JSON: ${quote(answer)}`);
  }
  const validate = validatorFor(spec.schema);
  if (validate(value)) return boolean(true, null);
  const first = validate.errors?.[0];
  return boolean(false, `${first?.instancePath || "/"} ${first?.message ?? "does not match"}`);
}

// A number as people write it: sign, digits with optional thousands commas, fraction, exponent.
const NUMBER = /[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+/;

/** The first number in the answer, within the tolerance of the expected one. */
export function gradeNumeric(spec: Spec<"numeric">, answer: string): Grade {
  const match = NUMBER.exec(answer);
  if (!match) return boolean(false, `no number in ${quote(answer)}`);
  const found = Number(match[0].replaceAll(",", ""));
  const allowed = spec.relative ? spec.tolerance * Math.abs(spec.expected) : spec.tolerance;
  // A hair of slack for binary fractions: 0.1 + 0.2 is within 0.3 ± 0.
  const passed =
    Math.abs(found - spec.expected) <= allowed + 1e-9 * Math.max(1, Math.abs(spec.expected));
  return boolean(passed, `${found} is not within ${allowed} of ${spec.expected}`);
}

/** The messages sent to the judge model for one answer. */
export function judgeMessages(
  spec: Spec<"judge">,
  question: string,
  answer: string,
  reference: string | undefined,
): { role: "system" | "user"; content: string }[] {
  const referencePart = reference === undefined ? "" : `Reference answer:\n${reference}\n\n`;
  return [
    {
      role: "system",
      content:
        `You grade an answer against a rubric. Think briefly, then end with one line ` +
        `"Score: N", N a number from ${spec.minimum} to ${spec.maximum}.`,
    },
    {
      role: "user",
      content:
        `Rubric:\n${spec.rubric}\n\nQuestion:\n${question}\n\n${referencePart}` +
        `Answer:\n${answer}\n\nEnd with "Score: N" (${spec.minimum} to ${spec.maximum}).`,
    },
  ];
}

const SCORE_LINE = /score\s*[:=]\s*\**\s*([-+]?\d+(?:\.\d+)?)(?:\s*\/\s*\d+(?:\.\d+)?)?/gi;

/**
 * The judge's score: the last "Score: N" (also "score = N", "Score: **4**",
 * "Score: 4/5"), else an answer that is just a number. Null when there is none
 * or it is off the scale: never clamped.
 */
export function parseJudgeScore(text: string, minimum: number, maximum: number): number | null {
  let found: string | undefined;
  for (const match of text.matchAll(SCORE_LINE)) found = match[1];
  if (found === undefined && /^\s*[-+]?\d+(?:\.\d+)?\s*$/.test(text)) found = text.trim();
  if (found === undefined) return null;
  const score = Number(found);
  return score >= minimum && score <= maximum ? score : null;
}

/** The judge's answer as a grade, or why it could not be read. */
export function gradeJudge(spec: Spec<"judge">, judgeAnswer: string): Grade | { error: string } {
  const score = parseJudgeScore(judgeAnswer, spec.minimum, spec.maximum);
  if (score === null) {
    return {
      error: `the judge gave no score from ${spec.minimum} to ${spec.maximum}: ${quote(judgeAnswer)}`,
    };
  }
  const passAt = judgePassAt(spec);
  return {
    score: { type: "number", number: score, minimum: spec.minimum, maximum: spec.maximum },
    passed: score >= passAt,
    comment: score >= passAt ? null : `judged ${score} (passes at ${passAt})`,
  };
}

export function judgePassAt(spec: Spec<"judge">): number {
  return spec.pass_at ?? spec.minimum + 0.75 * (spec.maximum - spec.minimum);
}

/** Every grader but the judge, which needs a call first. */
export function gradeLocally(spec: Exclude<GraderSpec, { type: "judge" }>, answer: string): Grade {
  switch (spec.type) {
    case "exact":
      return gradeExact(spec, answer);
    case "contains":
      return gradeContains(spec, answer);
    case "regex":
      return gradeRegex(spec, answer);
    case "json_schema":
      return gradeJsonSchema(spec, answer);
    case "numeric":
      return gradeNumeric(spec, answer);
  }
}

const validators = new Map<string, ValidateFunction>();
let ajv: Ajv2020 | undefined;

function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = validators.get(key);
  if (!validate) {
    if (!ajv) {
      ajv = new Ajv2020({ allErrors: false, strict: false, addUsedSchema: false });
      // The `ajv-formats` CommonJS default export arrives wrapped under NodeNext typing.
      (addFormatsModule as unknown as typeof addFormatsModule.default)(ajv);
    }
    validate = ajv.compile(schema);
    validators.set(key, validate);
  }
  return validate;
}

/** Throws naming the case when a gold set's schema does not compile, before any call is made. */
export function checkSchemaCompiles(schema: Record<string, unknown>): void {
  validatorFor(schema);
}
