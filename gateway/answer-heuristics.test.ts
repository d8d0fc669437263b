// The answer heuristics as a table: what each kind of request and answer scores.
import { describe, expect, it } from "vitest";
import {
  type HeuristicScore,
  heuristicPlanFor,
  heuristicScoresPublished,
  MAX_CAPTURED_CHARACTERS,
  type ObservedAnswer,
  publishScores,
  type ScoredAnswer,
  StreamCapture,
  scoreAnswer,
  scoreWholeAnswer,
} from "./answer-heuristics.ts";
import type { NeutralResponse } from "./neutral.ts";

const bool = (value: boolean) => ({ type: "boolean", boolean: value });
const schema = {
  type: "object",
  properties: { city: { type: "string" }, population: { type: "integer" } },
  required: ["city", "population"],
  additionalProperties: false,
};
const jsonObject = { response_format: { type: "json_object" } };
const jsonSchema = {
  response_format: { type: "json_schema", json_schema: { name: "city", schema } },
};
const withTools = { tools: [{ type: "function", function: { name: "get_weather" } }] };
const answer = (overrides: Partial<ObservedAnswer>): ObservedAnswer => ({
  text: "",
  toolCalls: [],
  truncated: false,
  ...overrides,
});
/** Every score of an answer: those known at once, then the schema check's. */
const all = async (scored: ScoredAnswer): Promise<HeuristicScore[]> => [
  ...scored.now,
  ...((await scored.later) ?? []),
];
const metrics = async (scored: ScoredAnswer) => (await all(scored)).map((score) => score.metric);

describe("heuristicPlanFor", () => {
  it.each<[string, "openai" | "anthropic", Record<string, unknown>, unknown]>([
    ["plain text", "openai", { response_format: { type: "text" } }, null],
    ["no tools (an empty list)", "openai", { tools: [] }, null],
    [
      "json_object",
      "openai",
      jsonObject,
      { json: { kind: "json_object" }, tools: false, declaredTools: [] },
    ],
    [
      "json_schema",
      "openai",
      jsonSchema,
      { json: { kind: "json_schema", schema }, tools: false, declaredTools: [] },
    ],
    ["tools", "openai", withTools, { json: null, tools: true, declaredTools: withTools.tools }],
    [
      "Anthropic tools",
      "anthropic",
      { tools: [{ name: "t", input_schema: {} }] },
      { json: null, tools: true, declaredTools: [{ name: "t", input_schema: {} }] },
    ],
    ["Anthropic has no response_format", "anthropic", jsonObject, null],
  ])("%s", (_case, protocol, body, plan) => {
    expect(heuristicPlanFor(protocol, body)).toEqual(plan);
  });
});

describe("scoreAnswer", () => {
  const cases: [string, Record<string, unknown>, Partial<ObservedAnswer>, HeuristicScore[]][] = [
    ["nothing asked, not cut: no score", {}, { text: "hello" }, []],
    [
      "nothing asked, cut at the limit",
      {},
      { text: "hel", truncated: true },
      [
        { metric: "truncated", value: bool(true), comment: "stopped at the token limit" },
      ] as HeuristicScore[],
    ],
    [
      "valid JSON object",
      jsonObject,
      { text: '{"a": 1}' },
      [{ metric: "json_valid", value: bool(true), comment: null }] as HeuristicScore[],
    ],
    [
      "invalid JSON",
      jsonObject,
      { text: "Sure! {a: 1}" },
      [{ metric: "json_valid", value: bool(false), comment: "not valid JSON" }] as HeuristicScore[],
    ],
    [
      "JSON that is not an object for json_object",
      jsonObject,
      { text: "[1, 2]" },
      [
        { metric: "json_valid", value: bool(false), comment: "not a JSON object" },
      ] as HeuristicScore[],
    ],
    [
      "JSON satisfying the schema",
      jsonSchema,
      { text: '{"city": "Paris", "population": 2100000}' },
      [
        { metric: "json_valid", value: bool(true), comment: null },
        { metric: "json_schema_valid", value: bool(true), comment: null },
      ] as HeuristicScore[],
    ],
    [
      "JSON violating the schema",
      jsonSchema,
      { text: '{"city": "Paris", "population": "many"}' },
      [
        { metric: "json_valid", value: bool(true), comment: null },
        { metric: "json_schema_valid", value: bool(false), comment: "/population must be integer" },
      ] as HeuristicScore[],
    ],
    [
      "JSON cut at the limit",
      jsonSchema,
      { text: '{"city": "Pa', truncated: true },
      [
        { metric: "truncated", value: bool(true), comment: "stopped at the token limit" },
        {
          metric: "json_valid",
          value: bool(false),
          comment: expect.stringMatching(/\(the answer was cut at the token limit\)$/),
        },
        {
          metric: "json_schema_valid",
          value: bool(false),
          comment: "not JSON (the answer was cut at the token limit)",
        },
      ] as HeuristicScore[],
    ],
    [
      "tool calls with good arguments",
      withTools,
      { toolCalls: [{ name: "get_weather", argumentsJson: '{"city":"Paris"}' }] },
      [{ metric: "tool_args_valid", value: bool(true), comment: null }] as HeuristicScore[],
    ],
    [
      "a tool call whose arguments do not parse",
      withTools,
      {
        toolCalls: [
          { name: "get_weather", argumentsJson: "{}" },
          { name: "get_time", argumentsJson: '{"zone": "Eur' },
        ],
      },
      [
        {
          metric: "tool_args_valid",
          value: bool(false),
          // get_time is no tool the request declared: the vendor's name for it is not written.
          comment: "tool call 2: arguments are not valid JSON: it ends too early",
        },
      ] as HeuristicScore[],
    ],
    [
      "tool arguments that are not an object",
      withTools,
      { toolCalls: [{ name: "get_weather", argumentsJson: '"Paris"' }] },
      [
        {
          metric: "tool_args_valid",
          value: bool(false),
          comment: "get_weather: arguments are not a JSON object",
        },
      ] as HeuristicScore[],
    ],
    ["tools given but none called", withTools, { text: "It is sunny." }, []],
    [
      "a stream too long to keep: only truncation",
      jsonObject,
      { text: "", overflowed: true, truncated: true },
      [
        { metric: "truncated", value: bool(true), comment: "stopped at the token limit" },
      ] as HeuristicScore[],
    ],
  ];
  it.each(cases)("%s", async (_case, body, observed, expected) => {
    expect(await all(scoreAnswer(heuristicPlanFor("openai", body), answer(observed)))).toEqual(
      expected,
    );
  });

  it("records why the schema check was skipped when the schema does not compile", async () => {
    const broken = {
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: 12 } } },
    };
    expect(
      await all(scoreAnswer(heuristicPlanFor("openai", broken), answer({ text: "{}" }))),
    ).toEqual([
      { metric: "json_valid", value: bool(true), comment: null },
      {
        metric: "json_schema_skipped",
        value: { type: "category", category: "schema_not_compiled" },
        comment: "not checked: the schema does not compile",
      },
    ]);
  });
});

describe("scoreWholeAnswer", () => {
  const neutral = (overrides: Partial<NeutralResponse>): NeutralResponse => ({
    id: "x",
    model: "m",
    parts: [],
    finishReason: "stop",
    usage: null,
    ...overrides,
  });
  const unread = () => {
    throw new Error("the answer must not be read");
  };

  it("reads nothing of a pass-through answer when nothing was asked and it was not cut", () => {
    const body = { choices: [{ finish_reason: "stop", message: { content: "hi" } }] };
    expect(scoreWholeAnswer(null, "openai", undefined, body, unread)).toEqual({
      now: [],
      later: null,
    });
  });

  it("reads the finish reason of pass-through answers in each protocol", async () => {
    const openAI = { choices: [{ finish_reason: "length" }] };
    const anthropic = { stop_reason: "max_tokens" };
    for (const [protocol, body] of [
      ["openai", openAI],
      ["anthropic", anthropic],
    ] as const) {
      expect(await metrics(scoreWholeAnswer(null, protocol, undefined, body, unread))).toEqual([
        "truncated",
      ]);
    }
  });

  it("scores a translated answer's text and tool calls", async () => {
    const translated = neutral({
      parts: [
        { type: "text", text: "{" },
        { type: "tool_call", id: "c", name: "f", argumentsJson: "{" },
      ],
      finishReason: "length",
    });
    const plan = heuristicPlanFor("openai", { ...jsonObject, ...withTools });
    expect(
      (await all(scoreWholeAnswer(plan, "openai", translated, null, unread))).map((score) => [
        score.metric,
        score.value,
      ]),
    ).toEqual([
      ["truncated", bool(true)],
      ["json_valid", bool(false)],
      ["tool_args_valid", bool(false)],
    ]);
  });
});

describe("StreamCapture", () => {
  it("gathers OpenAI chunks: text, tool-call fragments by index, the finish reason", async () => {
    const capture = new StreamCapture(heuristicPlanFor("openai", { ...jsonObject, ...withTools }));
    const chunk = (delta: unknown, finish_reason: string | null = null) => ({
      choices: [{ index: 0, delta, finish_reason }],
    });
    capture.openAIChunk(chunk({ role: "assistant", content: '{"a"' }));
    capture.openAIChunk(chunk({ content: ": 1}" }));
    capture.openAIChunk(
      chunk({ tool_calls: [{ index: 0, id: "c", function: { name: "f", arguments: '{"x":' } }] }),
    );
    capture.openAIChunk(
      chunk({ tool_calls: [{ index: 1, id: "d", function: { name: "g", arguments: "{}" } }] }),
    );
    capture.openAIChunk(chunk({ tool_calls: [{ index: 0, function: { arguments: " 1}" } }] }));
    capture.openAIChunk(chunk({}, "tool_calls"));
    expect(await all(capture.scored())).toEqual([
      { metric: "json_valid", value: bool(true), comment: null },
      { metric: "tool_args_valid", value: bool(true), comment: null },
    ]);
  });

  it("gathers neutral events, and keeps no text when JSON was not asked for", async () => {
    const capture = new StreamCapture(null);
    capture.neutral({ type: "text_delta", text: "not json" });
    capture.neutral({ type: "finish", finishReason: "length" });
    expect(await all(capture.scored())).toEqual([
      { metric: "truncated", value: bool(true), comment: "stopped at the token limit" },
    ]);
    const tools = new StreamCapture(heuristicPlanFor("anthropic", { tools: [{ name: "f" }] }));
    tools.neutral({ type: "tool_call_start", index: 0, id: "c", name: "f" });
    tools.neutral({ type: "tool_call_delta", index: 0, argumentsJson: '{"city": ' });
    tools.neutral({ type: "finish", finishReason: "tool_calls" });
    expect(await all(tools.scored())).toEqual([
      {
        metric: "tool_args_valid",
        value: bool(false),
        comment: "f: arguments are not valid JSON: it ends too early",
      },
    ]);
  });

  it("stops keeping output past its bound and then scores only truncation", async () => {
    const capture = new StreamCapture(heuristicPlanFor("openai", jsonObject));
    capture.neutral({ type: "text_delta", text: "x".repeat(MAX_CAPTURED_CHARACTERS) });
    expect(await metrics(capture.scored())).toEqual(["json_valid"]);
    capture.neutral({ type: "text_delta", text: "y" });
    capture.neutral({ type: "finish", finishReason: "length" });
    expect(await metrics(capture.scored())).toEqual(["truncated"]);
  });
});

describe("publishScores", () => {
  const truncated: HeuristicScore = {
    metric: "truncated",
    value: bool(true),
    comment: "cut",
  } as HeuristicScore;
  const valid: HeuristicScore = {
    metric: "json_schema_valid",
    value: bool(true),
    comment: null,
  } as HeuristicScore;

  it("publishes the scores known at once now, and the schema check's when it comes", async () => {
    const published: HeuristicScore[][] = [];
    let deliver: (scores: HeuristicScore[]) => void = () => {};
    const later = new Promise<HeuristicScore[]>((resolve) => {
      deliver = resolve;
    });
    publishScores(
      { now: [truncated], later },
      { heuristicScores: (scores) => published.push([...scores]) },
      { warn() {} },
    );
    expect(published).toEqual([[truncated]]);
    deliver([valid]);
    await heuristicScoresPublished();
    expect(published).toEqual([[truncated], [valid]]);
  });

  it("logs, never throws, a late score the ledger can no longer take", async () => {
    const warnings: string[] = [];
    const ledger = {
      heuristicScores(scores: readonly HeuristicScore[]) {
        if (scores.includes(valid)) throw new Error("outbox closed");
      },
    };
    publishScores({ now: [], later: Promise.resolve([valid]) }, ledger, {
      warn: (_details, message) => warnings.push(message),
    });
    await heuristicScoresPublished();
    expect(warnings).toEqual([
      "a heuristic score (the JSON Schema check) came too late to be published",
    ]);
  });

  it("stops waiting for a check after the time given", async () => {
    publishScores(
      { now: [], later: new Promise(() => {}) },
      { heuristicScores() {} },
      { warn() {} },
    );
    const started = performance.now();
    await heuristicScoresPublished(50);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
