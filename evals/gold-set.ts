// A gold set: one JSON object per line (JSONL), each a case with its prompt
// and the graders its answer must pass. The README's "Eval" section documents
// every field; examples/gold/capitals.jsonl is a small one.
import { createHash } from "node:crypto";
import { basename, extname } from "node:path";
import { z } from "zod";

// Metric names become quality_scored metrics and report keys (events/schemas.ts).
const metricName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "1-64 lowercase letters, digits, . _ -");

const common = { metric: metricName.optional() };

export const graderSpec = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("exact"),
    expected: z.string(),
    ignore_case: z.boolean().default(false),
    ...common,
  }),
  z.strictObject({
    type: z.literal("contains"),
    expected: z.string().min(1),
    ignore_case: z.boolean().default(false),
    ...common,
  }),
  z.strictObject({
    type: z.literal("regex"),
    pattern: z.string().min(1),
    flags: z
      .string()
      .regex(/^[dgimsuvy]*$/, "JavaScript RegExp flags")
      .default(""),
    ...common,
  }),
  z.strictObject({
    type: z.literal("json_schema"),
    schema: z.record(z.string(), z.unknown()),
    ...common,
  }),
  z.strictObject({
    type: z.literal("numeric"),
    expected: z.number(),
    tolerance: z.number().min(0).default(0),
    /** Tolerance as a share of |expected| instead of an absolute difference. */
    relative: z.boolean().default(false),
    ...common,
  }),
  z
    .strictObject({
      type: z.literal("judge"),
      rubric: z.string().min(1),
      /** `vendor/model` (or a route) that judges; default the runner's --judge. */
      model: z.string().min(1).optional(),
      minimum: z.number().default(1),
      maximum: z.number().default(5),
      /** The least score that passes; default three quarters of the way up the scale. */
      pass_at: z.number().optional(),
      ...common,
    })
    .refine((grader) => grader.minimum < grader.maximum, {
      message: "minimum must be below maximum",
      path: ["minimum"],
    })
    .refine(
      (grader) =>
        grader.pass_at === undefined ||
        (grader.pass_at >= grader.minimum && grader.pass_at <= grader.maximum),
      { message: "pass_at must lie within [minimum, maximum]", path: ["pass_at"] },
    ),
]);
export type GraderSpec = z.infer<typeof graderSpec>;

const chatMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.string(),
});

export const goldCase = z
  .strictObject({
    id: z.string().min(1).max(256),
    /** The user's message; or `messages` for a whole conversation. */
    prompt: z.string().min(1).optional(),
    messages: z.array(chatMessage).min(1).optional(),
    system: z.string().optional(),
    /** Sent as x-switchboard-task; overrides --task. */
    task: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/)
      .optional(),
    max_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    response_format: z.record(z.string(), z.unknown()).optional(),
    /** A reference answer, shown to a judge. */
    reference: z.string().optional(),
    graders: z.array(graderSpec).min(1),
  })
  .refine((each) => (each.prompt === undefined) !== (each.messages === undefined), {
    message: "a case has either prompt or messages",
    path: ["prompt"],
  });
export type GoldCase = z.infer<typeof goldCase>;

export interface GoldSet {
  name: string;
  version: string;
  cases: GoldCase[];
}

/** The metric a grader's scores are published under. */
export function metricOf(grader: GraderSpec): string {
  if (grader.metric) return grader.metric;
  switch (grader.type) {
    case "exact":
      return "exact_match";
    case "contains":
      return "contains";
    case "regex":
      return "regex_match";
    case "json_schema":
      return "schema_match";
    case "numeric":
      return "numeric_match";
    case "judge":
      return "judge_score";
  }
}

/**
 * Parses a gold set's JSONL text. Blank lines and lines starting with `//`
 * are skipped. A bad line throws naming its line number and field. The name
 * defaults to the file's base name; the version to the first 12 hex digits of
 * the SHA-256 of its bytes, so an edited gold set is a new version.
 */
export function parseGoldSet(
  text: string,
  options: { path: string; name?: string; version?: string },
): GoldSet {
  const cases: GoldCase[] = [];
  const ids = new Set<string>();
  const lines = text.split("\n");
  for (const [index, line] of lines.entries()) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("//")) continue;
    const where = `${options.path}:${index + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (error) {
      throw new Error(`${where}: not JSON (${(error as Error).message})`);
    }
    const result = goldCase.safeParse(json);
    if (!result.success) {
      const issue = result.error.issues[0];
      const field = issue?.path.join(".") || "case";
      throw new Error(`${where}: ${field}: ${issue?.message ?? "invalid"}`);
    }
    if (ids.has(result.data.id)) throw new Error(`${where}: id: "${result.data.id}" is repeated`);
    ids.add(result.data.id);
    cases.push(result.data);
  }
  if (cases.length === 0) throw new Error(`${options.path}: no cases`);
  const name =
    options.name ??
    basename(options.path, extname(options.path))
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-");
  const version = options.version ?? createHash("sha256").update(text).digest("hex").slice(0, 12);
  return { name, version, cases };
}
