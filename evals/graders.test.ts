// Each grader, passing and failing, and the judge's prompt and score reading.
import { describe, expect, it } from "vitest";
import { type GraderSpec, graderSpec, parseGoldSet } from "./gold-set.ts";
import {
  gradeJudge,
  gradeLocally,
  judgeMessages,
  judgePassAt,
  parseJudgeScore,
} from "./graders.ts";

const spec = <T extends GraderSpec["type"]>(raw: Record<string, unknown> & { type: T }) =>
  graderSpec.parse(raw) as Extract<GraderSpec, { type: T }>;

describe("local graders", () => {
  it.each<
    [
      string,
      Record<string, unknown> & { type: Exclude<GraderSpec["type"], "judge"> },
      string,
      boolean,
      string | null,
    ]
  >([
    ["exact: equal once trimmed", { type: "exact", expected: "Paris" }, "  Paris\n", true, null],
    [
      "exact: case matters by default",
      { type: "exact", expected: "Paris" },
      "paris",
      false,
      'answered "paris"',
    ],
    [
      "exact: ignore_case",
      { type: "exact", expected: "Paris", ignore_case: true },
      "PARIS",
      true,
      null,
    ],
    [
      "exact: more than the answer",
      { type: "exact", expected: "Paris" },
      "Paris.",
      false,
      'answered "Paris."',
    ],
    ["contains: inside", { type: "contains", expected: "Paris" }, "It is Paris.", true, null],
    [
      "contains: absent",
      { type: "contains", expected: "Paris" },
      "Lyon",
      false,
      'no "Paris" in "Lyon"',
    ],
    [
      "contains: ignore_case",
      { type: "contains", expected: "paris", ignore_case: true },
      "PARIS!",
      true,
      null,
    ],
    [
      "regex: matches",
      { type: "regex", pattern: "^\\d{4}-\\d{2}-\\d{2}$" },
      "2026-11-20",
      true,
      null,
    ],
    ["regex: flags", { type: "regex", pattern: "^paris", flags: "i" }, "Paris", true, null],
    [
      "regex: no match",
      { type: "regex", pattern: "^\\d+$" },
      "12a",
      false,
      '"12a" does not match /^\\d+$/',
    ],
    ["regex: g flag stays stateless", { type: "regex", pattern: "a", flags: "g" }, "a", true, null],
    [
      "json_schema: satisfies",
      {
        type: "json_schema",
        schema: { type: "object", required: ["city"], properties: { city: { type: "string" } } },
      },
      '{"city": "Paris"}',
      true,
      null,
    ],
    [
      "json_schema: in a ``` fence",
      { type: "json_schema", schema: { type: "object", required: ["city"] } },
      '```json\n{"city": "Paris"}\n```',
      true,
      null,
    ],
    [
      "json_schema: violates",
      { type: "json_schema", schema: { type: "object", properties: { n: { type: "integer" } } } },
      '{"n": 1.5}',
      false,
      "/n must be integer",
    ],
    [
      "json_schema: formats",
      { type: "json_schema", schema: { type: "string", format: "date" } },
      '"2026-13-40"',
      false,
      '/ must match format "date"',
    ],
    [
      "json_schema: not JSON",
      { type: "json_schema", schema: {} },
      "Paris",
      false,
      'not JSON: "Paris"',
    ],
    ["numeric: exact", { type: "numeric", expected: 42 }, "The answer is 42.", true, null],
    [
      "numeric: thousands commas",
      { type: "numeric", expected: 2100000 },
      "About 2,100,000 people",
      true,
      null,
    ],
    [
      "numeric: absolute tolerance",
      { type: "numeric", expected: 3.14, tolerance: 0.01 },
      "pi is 3.1415",
      true,
      null,
    ],
    [
      "numeric: outside tolerance",
      { type: "numeric", expected: 100, tolerance: 1 },
      "102",
      false,
      "102 is not within 1 of 100",
    ],
    [
      "numeric: relative tolerance",
      { type: "numeric", expected: 200, tolerance: 0.05, relative: true },
      "-> 209",
      true,
      null,
    ],
    [
      "numeric: binary fractions",
      { type: "numeric", expected: 0.3 },
      String(0.1 + 0.2),
      true,
      null,
    ],
    [
      "numeric: the first number counts",
      { type: "numeric", expected: 7 },
      "3 then 7",
      false,
      "3 is not within 0 of 7",
    ],
    ["numeric: no number", { type: "numeric", expected: 1 }, "one", false, 'no number in "one"'],
  ])("%s", (_case, raw, answer, passed, comment) => {
    const grade = gradeLocally(spec(raw) as Exclude<GraderSpec, { type: "judge" }>, answer);
    expect(grade).toEqual({ score: { type: "boolean", boolean: passed }, passed, comment });
  });
});

describe("judge", () => {
  const judge = spec({ type: "judge", rubric: "Names the capital correctly." });

  it.each<[string, number | null]>([
    ["Score: 4", 4],
    ["It is right.\nScore: 5", 5],
    ["score = 3.5", 3.5],
    ["Score: **2**", 2],
    ["Score: 4/5", 4],
    ["First Score: 1, on reflection Score: 3", 3],
    ["5", 5],
    ["Score: 7", null],
    ["Score: 0", null],
    ["It is great", null],
  ])("reads %j as %s", (text, score) => {
    expect(parseJudgeScore(text, 1, 5)).toBe(score);
  });

  it("passes at three quarters of the scale unless told, and keeps the scale in the score", () => {
    expect(judgePassAt(judge)).toBe(4);
    expect(gradeJudge(judge, "Score: 4")).toEqual({
      score: { type: "number", number: 4, minimum: 1, maximum: 5 },
      passed: true,
      comment: null,
    });
    expect(gradeJudge(judge, "Score: 3")).toMatchObject({
      passed: false,
      comment: "judged 3 (passes at 4)",
    });
    const strict = spec({ type: "judge", rubric: "r", minimum: 0, maximum: 10, pass_at: 9 });
    expect(gradeJudge(strict, "Score: 8")).toMatchObject({
      passed: false,
      score: { minimum: 0, maximum: 10 },
    });
    expect(gradeJudge(judge, "no idea")).toEqual({
      error: 'the judge gave no score from 1 to 5: "no idea"',
    });
  });

  it("asks with the rubric, the question, the reference and the answer, last message last", () => {
    const messages = judgeMessages(judge, "What is the capital of France?", "Paris.", "Paris");
    expect(messages.map((message) => message.role)).toEqual(["system", "user"]);
    expect(messages[1]?.content).toBe(
      "Rubric:\nNames the capital correctly.\n\nQuestion:\nWhat is the capital of France?\n\n" +
        'Reference answer:\nParis\n\nAnswer:\nParis.\n\nEnd with "Score: N" (1 to 5).',
    );
  });
});

describe("parseGoldSet", () => {
  const line = (value: unknown) => JSON.stringify(value);
  const good = { id: "a", prompt: "p", graders: [{ type: "exact", expected: "x" }] };

  it("reads cases, skips blank and // lines, names and versions the set from its file", () => {
    const text = `// capitals\n${line(good)}\n\n${line({ ...good, id: "b" })}\n`;
    const set = parseGoldSet(text, { path: "/tmp/My Capitals.jsonl" });
    expect(set.name).toBe("my-capitals");
    expect(set.version).toMatch(/^[0-9a-f]{12}$/);
    expect(set.cases.map((each) => each.id)).toEqual(["a", "b"]);
    expect(parseGoldSet(text, { path: "x", name: "n", version: "v" })).toMatchObject({
      name: "n",
      version: "v",
    });
  });

  it.each<[string, string, RegExp]>([
    ["not JSON", "{", /^g\.jsonl:1: not JSON/],
    ["no graders", line({ id: "a", prompt: "p", graders: [] }), /^g\.jsonl:1: graders: /],
    [
      "an unknown grader",
      line({ ...good, graders: [{ type: "fuzzy" }] }),
      /^g\.jsonl:1: graders\.0\.type: /,
    ],
    [
      "prompt and messages both",
      line({ ...good, messages: [{ role: "user", content: "m" }] }),
      /^g\.jsonl:1: prompt: a case has either prompt or messages/,
    ],
    ["a repeated id", `${line(good)}\n${line(good)}`, /^g\.jsonl:2: id: "a" is repeated/],
    ["an unknown field", line({ ...good, expected: "x" }), /^g\.jsonl:1: case: Unrecognized key/],
    [
      "a judge pass_at off the scale",
      line({ ...good, graders: [{ type: "judge", rubric: "r", pass_at: 9 }] }),
      /graders\.0\.pass_at/,
    ],
    ["nothing", "\n", /no cases/],
  ])("refuses %s, naming line and field", (_case, text, message) => {
    expect(() => parseGoldSet(text, { path: "g.jsonl" })).toThrow(message);
  });
});
