// The usage contract at the adapter boundary: what each vendor adapter makes
// of every shape of usage a vendor can send, whole and streamed. Examples for
// the cases found in the wild (Anthropic's null counters in message_delta;
// 1e15, -5, 1.5, 1e400, 2^53 + 2 and strings for a count), then properties
// over generated usage and frame sequences (counters absent, null, zero,
// negative, fractional, huge, not numbers; frames truncated, reordered,
// duplicated, sliced anywhere): whatever comes, a reading is none, usage
// inside the contract, or a rejection naming a field the adapter reads.
// FUZZ_RUNS raises the number of generated cases.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { usage } from "../../test/fixtures/normalized-usage.ts";
import type { NeutralStreamEvent, NormalizedUsage, UsageReading } from "../neutral.ts";
import type { StreamDecoder } from "./adapter.ts";
import { AnthropicStreamDecoder, fromAnthropicMessage, fromAnthropicUsage } from "./anthropic.ts";
import { fromGeminiResponse, fromGeminiUsage, GeminiStreamDecoder } from "./gemini.ts";
import {
  fromOpenAIChatCompletion,
  fromOpenAIUsage,
  OpenAIStreamDecoder,
} from "./openai-compatible.ts";
import { checkNormalizedUsage, MAX_USAGE_TOKENS } from "./usage-contract.ts";

const RUNS = Number(process.env.FUZZ_RUNS) || 400;

function decodeAll(
  decoder: StreamDecoder,
  body: string,
  slices: number[] = [7],
): NeutralStreamEvent[] {
  const events: NeutralStreamEvent[] = [];
  let start = 0;
  for (let index = 0; start < body.length; index += 1) {
    const size = Math.max(1, slices[index % slices.length] ?? 7);
    events.push(...decoder.push(body.slice(start, start + size)));
    start += size;
  }
  events.push(...decoder.end());
  return events;
}

/** The last usage reading of a stream, as the relay keeps it. */
function finalReading(events: NeutralStreamEvent[]): UsageReading | null {
  let reading: UsageReading | null = null;
  for (const event of events) {
    if (event.type === "usage") reading = { kind: "reported", usage: event.usage };
    if (event.type === "usage_rejected") reading = { kind: "rejected", rejection: event.rejection };
  }
  return reading;
}

// ── Anthropic: counters null, absent and present ───────────────────────────────────────────

const anthropicFrame = (data: Record<string, unknown>) =>
  `event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`;

/** `deltaUsage` as JSON text when given as a string: 1e400 cannot be written by JSON.stringify. */
function anthropicStream(startUsage: unknown, deltaUsage: unknown): string {
  return [
    anthropicFrame({
      type: "message_start",
      message: {
        id: "msg_1",
        type: "message",
        role: "assistant",
        model: "claude",
        usage: startUsage,
      },
    }),
    anthropicFrame({
      type: "content_block_start",
      index: 0,
      content_block: { type: "text", text: "" },
    }),
    anthropicFrame({
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: "Hi" },
    }),
    anthropicFrame({ type: "content_block_stop", index: 0 }),
    typeof deltaUsage === "string"
      ? `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":${deltaUsage}}\n\n`
      : anthropicFrame({
          type: "message_delta",
          delta: { stop_reason: "end_turn", stop_sequence: null },
          usage: deltaUsage,
        }),
    anthropicFrame({ type: "message_stop" }),
  ].join("");
}

const START_USAGE: Record<string, number> = {
  input_tokens: 25,
  cache_read_input_tokens: 100,
  cache_creation_input_tokens: 40,
  output_tokens: 1,
};
const INPUT_COUNTERS = ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"];

describe("Anthropic streams never lose message_start's counts to message_delta's nulls", () => {
  for (const counter of INPUT_COUNTERS) {
    it(`${counter} null in message_delta keeps message_start's count`, () => {
      const events = decodeAll(
        new AnthropicStreamDecoder(),
        anthropicStream(START_USAGE, { ...START_USAGE, [counter]: null, output_tokens: 30 }),
      );
      expect(finalReading(events)).toEqual({ kind: "reported", usage: usage(165, 100, 40, 30, 0) });
    });

    it(`${counter} absent from message_delta keeps message_start's count`, () => {
      const { [counter]: _left, ...rest } = START_USAGE;
      const events = decodeAll(
        new AnthropicStreamDecoder(),
        anthropicStream(START_USAGE, { ...rest, output_tokens: 30 }),
      );
      expect(finalReading(events)).toEqual({ kind: "reported", usage: usage(165, 100, 40, 30, 0) });
    });

    it(`${counter} present in message_delta replaces message_start's count`, () => {
      const events = decodeAll(
        new AnthropicStreamDecoder(),
        anthropicStream(START_USAGE, { [counter]: 7, output_tokens: 30 }),
      );
      const count = (name: string) => (name === counter ? 7 : (START_USAGE[name] ?? 0));
      const read = count("cache_read_input_tokens");
      const write = count("cache_creation_input_tokens");
      expect(finalReading(events)).toEqual({
        kind: "reported",
        usage: usage(count("input_tokens") + read + write, read, write, 30, 0),
      });
    });
  }

  it("every input counter null at once (the reported under-billing): input stays message_start's", () => {
    const events = decodeAll(
      new AnthropicStreamDecoder(),
      anthropicStream(START_USAGE, {
        input_tokens: null,
        cache_read_input_tokens: null,
        cache_creation_input_tokens: null,
        output_tokens: 30,
      }),
    );
    expect(finalReading(events)).toEqual({ kind: "reported", usage: usage(165, 100, 40, 30, 0) });
  });

  it("output_tokens null in message_delta keeps the count so far", () => {
    const events = decodeAll(
      new AnthropicStreamDecoder(),
      anthropicStream(START_USAGE, { output_tokens: null }),
    );
    expect(finalReading(events)).toEqual({ kind: "reported", usage: usage(165, 100, 40, 1, 0) });
  });

  it("a bad count in message_delta is refused, not merged away", () => {
    const events = decodeAll(
      new AnthropicStreamDecoder(),
      anthropicStream(START_USAGE, { input_tokens: -5, output_tokens: 30 }),
    );
    expect(finalReading(events)).toEqual({
      kind: "rejected",
      rejection: { field: "usage.input_tokens", value: "-5", reason: "negative" },
    });
  });

  it("a message_start repeated after message_delta does not take back its counts", () => {
    const body = anthropicStream(START_USAGE, { output_tokens: 30 });
    const start = body.slice(0, body.indexOf("\n\n") + 2);
    const events = decodeAll(new AnthropicStreamDecoder(), body + start);
    expect(finalReading(events)).toEqual({ kind: "reported", usage: usage(165, 100, 40, 30, 0) });
  });
});

describe("Anthropic whole answers: every counter null, absent and present", () => {
  const message = (counters: Record<string, unknown>) =>
    fromAnthropicMessage({
      type: "message",
      id: "msg_1",
      model: "claude",
      content: [],
      usage: counters,
    });

  it("all present: input is the three input counters together", () => {
    expect(message(START_USAGE)).toMatchObject({
      usage: usage(165, 100, 40, 1, 0),
      usageRejection: null,
    });
  });

  for (const counter of ["cache_read_input_tokens", "cache_creation_input_tokens"]) {
    for (const [name, value] of [
      ["null", null],
      ["absent", undefined],
    ] as const) {
      it(`${counter} ${name}: nothing cached that way`, () => {
        const counters: Record<string, unknown> = { ...START_USAGE, [counter]: value };
        const expected =
          counter === "cache_read_input_tokens" ? usage(65, 0, 40, 1, 0) : usage(125, 100, 0, 1, 0);
        expect(message(counters)).toMatchObject({ usage: expected, usageRejection: null });
      });
    }
  }

  for (const counter of ["input_tokens", "output_tokens"]) {
    for (const [name, value] of [
      ["null", null],
      ["absent", undefined],
    ] as const) {
      it(`${counter} ${name}: refused (estimated), never counted as 0`, () => {
        const counters: Record<string, unknown> = { ...START_USAGE, [counter]: value };
        expect(message(counters)).toMatchObject({
          usage: null,
          usageRejection: { field: `usage.${counter}`, value: name, reason: name },
        });
      });
    }
  }
});

// ── Every bad value, in every adapter's counters ─────────────────────────────────────────

/** The bad values the audit sent, as JSON text (1e400 cannot be written in JavaScript). */
const BAD_COUNTS: [string, string, string][] = [
  ["1e15", "1000000000000000", `over ${MAX_USAGE_TOKENS}`],
  ["-5", "-5", "negative"],
  ["1.5", "1.5", "not a whole number"],
  ["1e400", "Infinity", "not finite"],
  ["9007199254740993", "9007199254740992", `over ${MAX_USAGE_TOKENS}`],
  ['"12"', '"12"', "not a number but string"],
  ['"lots"', "a string of 4 characters", "not a number but string"],
  ["true", "true", "not a number but boolean"],
  ["{}", "an object", "not a number but object"],
];

describe.each(BAD_COUNTS)("a count of %s", (json, shown, reason) => {
  const bad = (template: string) => JSON.parse(template.replace("BAD", json));

  it("is refused by the OpenAI adapter, naming the field and value", () => {
    const answer = bad(
      '{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":BAD,"completion_tokens":3}}',
    );
    expect(fromOpenAIChatCompletion(answer)).toMatchObject({
      usage: null,
      usageRejection: { field: "usage.prompt_tokens", value: shown, reason },
    });
    const details = bad(
      '{"prompt_tokens":10,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":BAD}}',
    );
    expect(fromOpenAIUsage(details)).toMatchObject({
      kind: "rejected",
      rejection: { field: "usage.prompt_tokens_details.cached_tokens", value: shown },
    });
  });

  it("is refused by the Anthropic adapter, whole and streamed", () => {
    const counters = bad('{"input_tokens":BAD,"output_tokens":3}');
    expect(fromAnthropicUsage(counters)).toEqual({
      kind: "rejected",
      rejection: { field: "usage.input_tokens", value: shown, reason },
    });
    const events = decodeAll(
      new AnthropicStreamDecoder(),
      anthropicStream(START_USAGE, '{"output_tokens":BAD}'.replace("BAD", json)),
    );
    expect(finalReading(events)).toEqual({
      kind: "rejected",
      rejection: { field: "usage.output_tokens", value: shown, reason },
    });
  });

  it("is refused by the Gemini adapter", () => {
    const answer = bad(
      '{"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":BAD}}',
    );
    expect(fromGeminiResponse(answer)).toMatchObject({
      usage: null,
      usageRejection: { field: "usageMetadata.candidatesTokenCount", value: shown, reason },
    });
  });
});

describe("totals and parts", () => {
  it("a part larger than its whole is refused (cached prompt tokens over the prompt)", () => {
    expect(
      fromOpenAIUsage({
        prompt_tokens: 10,
        completion_tokens: 1,
        prompt_tokens_details: { cached_tokens: 11 },
      }),
    ).toMatchObject({ kind: "rejected", rejection: { field: "cached_input_tokens", value: "11" } });
    expect(
      fromOpenAIUsage({
        prompt_tokens: 10,
        completion_tokens: 1,
        completion_tokens_details: { reasoning_tokens: 2 },
      }),
    ).toMatchObject({ kind: "rejected", rejection: { field: "reasoning_tokens", value: "2" } });
  });

  it("a total over the bound built from counters each within it is refused, named by the event's column", () => {
    const half = MAX_USAGE_TOKENS / 2 + 1;
    expect(
      fromAnthropicUsage({ input_tokens: half, cache_read_input_tokens: half, output_tokens: 1 }),
    ).toMatchObject({ kind: "rejected", rejection: { field: "input_tokens" } });
  });

  it("usage that is not an object is refused; null or absent is none", () => {
    expect(fromOpenAIUsage("12")).toEqual({
      kind: "rejected",
      rejection: { field: "usage", value: '"12"', reason: "not an object" },
    });
    expect(fromGeminiUsage([1])).toMatchObject({
      kind: "rejected",
      rejection: { field: "usageMetadata" },
    });
    expect(fromOpenAIUsage(null)).toBeNull();
    expect(fromAnthropicUsage(undefined)).toBeNull();
  });

  it("-0 is a count of zero", () => {
    expect(fromOpenAIUsage(JSON.parse('{"prompt_tokens":-0,"completion_tokens":0}'))).toEqual({
      kind: "reported",
      usage: usage(0, 0, 0, 0, 0),
    });
  });
});

// ── Properties ────────────────────────────────────────────────────────────────────────────

/** Any value a vendor could put where a count belongs. */
const anyCount: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.constant(0),
  // Good counts weigh most, so that the exact readings are well exercised too.
  { arbitrary: fc.integer({ min: 0, max: 100_000 }), weight: 12 },
  { arbitrary: fc.integer({ min: 0, max: MAX_USAGE_TOKENS }), weight: 2 },
  fc.integer({ min: -1_000_000, max: -1 }),
  fc.double({ noNaN: false }),
  fc.constantFrom(1e15, 2 ** 53, 2 ** 53 + 2, Number.MAX_VALUE, Infinity, -Infinity, -0, 1.5),
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.constant({}),
  fc.constant([3]),
);

/** A record of counters under the given names, each absent or any value. */
function countersOf(names: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(...names.map(() => anyCount)).map((values) => {
    const record: Record<string, unknown> = {};
    names.forEach((name, index) => {
      if (values[index] !== undefined) record[name] = values[index];
    });
    return record;
  });
}

/** A count read as the adapters read it: -0 is 0. */
function countOf(value: unknown): number {
  return typeof value === "number" ? value + 0 : 0;
}

function isCount(value: unknown): value is number {
  return (
    typeof value === "number" &&
    Number.isSafeInteger(value) &&
    value >= 0 &&
    value <= MAX_USAGE_TOKENS
  );
}

/** The contract the ledger relies on: every count a safe integer in bounds, every part within its whole. */
function expectInsideContract(reading: UsageReading | null, knownFields: readonly string[]): void {
  if (reading === null) return;
  if (reading.kind === "reported") {
    for (const value of Object.values(reading.usage)) expect(isCount(value)).toBe(true);
    expect(checkNormalizedUsage(reading.usage)).toBeNull();
  } else {
    expect(knownFields).toContain(reading.rejection.field);
    // Shown by kind or as a number, never as free text from the vendor.
    expect(reading.rejection.value).toMatch(
      /^(-?[0-9.]+(e[+-][0-9]+)?|Infinity|-Infinity|NaN|-0|null|absent|true|false|"[0-9eE.+\- ]+"|a string of \d+ characters|an array|an object)$/,
    );
  }
}

const NEUTRAL_COLUMNS = [
  "input_tokens",
  "cached_input_tokens",
  "cache_write_input_tokens",
  "output_tokens",
  "reasoning_tokens",
];

const OPENAI_FIELDS = [
  "usage.prompt_tokens",
  "usage.completion_tokens",
  "usage.prompt_tokens_details",
  "usage.prompt_tokens_details.cached_tokens",
  "usage.prompt_cache_hit_tokens",
  "usage.completion_tokens_details",
  "usage.completion_tokens_details.reasoning_tokens",
  ...NEUTRAL_COLUMNS,
];
const ANTHROPIC_COUNTERS = [
  "input_tokens",
  "output_tokens",
  "cache_read_input_tokens",
  "cache_creation_input_tokens",
];
const ANTHROPIC_FIELDS = [
  ...ANTHROPIC_COUNTERS.map((name) => `usage.${name}`),
  "usage",
  ...NEUTRAL_COLUMNS,
];
const GEMINI_COUNTERS = [
  "promptTokenCount",
  "candidatesTokenCount",
  "thoughtsTokenCount",
  "toolUsePromptTokenCount",
  "cachedContentTokenCount",
];
const GEMINI_FIELDS = [
  ...GEMINI_COUNTERS.map((name) => `usageMetadata.${name}`),
  "usageMetadata",
  ...NEUTRAL_COLUMNS,
];

const openAIUsage = fc
  .tuple(
    countersOf(["prompt_tokens", "completion_tokens", "prompt_cache_hit_tokens", "total_tokens"]),
    fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      countersOf(["cached_tokens", "audio_tokens"]),
    ),
    fc.oneof(fc.constant(undefined), fc.constant(null), countersOf(["reasoning_tokens"])),
  )
  .map(
    ([counters, promptDetails, completionDetails]): Record<string, unknown> => ({
      ...counters,
      ...(promptDetails !== undefined ? { prompt_tokens_details: promptDetails } : {}),
      ...(completionDetails !== undefined ? { completion_tokens_details: completionDetails } : {}),
    }),
  );

/** A count the vendor may leave out: absent, null, or a good count. */
function isOptionalCount(value: unknown): boolean {
  return value === undefined || value === null || isCount(value);
}

/**
 * The oracle of the properties below: refused whenever a count read is bad,
 * else exactly `expected` when it is inside the contract, else refused.
 */
function expectReading(
  reading: UsageReading | null,
  countsReadAreGood: boolean,
  expected: () => NormalizedUsage,
): void {
  if (!countsReadAreGood) {
    expect(reading?.kind).toBe("rejected");
    return;
  }
  const usage = expected();
  if (checkNormalizedUsage(usage) === null) expect(reading).toEqual({ kind: "reported", usage });
  else expect(reading?.kind).toBe("rejected");
}

describe("properties: whatever the usage object, the reading is inside the contract", () => {
  it("OpenAI: refused whenever a count it reads is bad, exact whenever all are good", () => {
    fc.assert(
      fc.property(openAIUsage, (counters) => {
        const reading = fromOpenAIUsage(counters);
        expectInsideContract(reading, OPENAI_FIELDS);
        const details = counters.prompt_tokens_details as
          | Record<string, unknown>
          | null
          | undefined;
        const reasoning = (
          counters.completion_tokens_details as Record<string, unknown> | null | undefined
        )?.reasoning_tokens;
        const cached = details?.cached_tokens ?? counters.prompt_cache_hit_tokens;
        expectReading(
          reading,
          isCount(counters.prompt_tokens) &&
            isCount(counters.completion_tokens) &&
            isOptionalCount(cached) &&
            isOptionalCount(reasoning),
          () =>
            usage(
              countOf(counters.prompt_tokens),
              countOf(cached),
              0,
              countOf(counters.completion_tokens),
              countOf(reasoning),
            ),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("Anthropic: refused whenever a count it reads is bad, exact whenever all are good", () => {
    fc.assert(
      fc.property(countersOf(ANTHROPIC_COUNTERS), (counters) => {
        const reading = fromAnthropicUsage(counters);
        expectInsideContract(reading, ANTHROPIC_FIELDS);
        const cacheRead = countOf(counters.cache_read_input_tokens);
        const cacheWrite = countOf(counters.cache_creation_input_tokens);
        expectReading(
          reading,
          isCount(counters.input_tokens) &&
            isCount(counters.output_tokens) &&
            isOptionalCount(counters.cache_read_input_tokens) &&
            isOptionalCount(counters.cache_creation_input_tokens),
          () =>
            usage(
              countOf(counters.input_tokens) + cacheRead + cacheWrite,
              cacheRead,
              cacheWrite,
              countOf(counters.output_tokens),
              0,
            ),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("Gemini: refused whenever a count it reads is bad, exact whenever all are good", () => {
    fc.assert(
      fc.property(countersOf(GEMINI_COUNTERS), (counters) => {
        const reading = fromGeminiUsage(counters);
        expectInsideContract(reading, GEMINI_FIELDS);
        const value = (name: string) => countOf(counters[name]);
        expectReading(
          reading,
          isCount(counters.promptTokenCount) &&
            GEMINI_COUNTERS.slice(1).every((name) => isOptionalCount(counters[name])),
          () =>
            usage(
              value("promptTokenCount") + value("toolUsePromptTokenCount"),
              value("cachedContentTokenCount"),
              0,
              value("candidatesTokenCount") + value("thoughtsTokenCount"),
              value("thoughtsTokenCount"),
            ),
        );
      }),
      { numRuns: RUNS },
    );
  });
});

/**
 * A stream's frames in any order, some repeated, with any usage in the
 * frames that carry it; then cut anywhere and sliced anyhow.
 */
function streamArbitrary(frameArbitrary: fc.Arbitrary<string>) {
  return fc.record({
    frames: fc.array(frameArbitrary, { minLength: 1, maxLength: 8 }),
    duplicate: fc.nat(),
    cutAt: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
    slices: fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
  });
}

function streamBodyOf(
  { frames, duplicate, cutAt }: { frames: string[]; duplicate: number; cutAt: number | undefined },
  ending = "",
): string {
  const withRepeat = [...frames];
  withRepeat.splice(
    duplicate % (frames.length + 1),
    0,
    frames[duplicate % frames.length] as string,
  );
  const body = withRepeat.join("") + ending;
  return cutAt === undefined ? body : body.slice(0, Math.floor(body.length * cutAt));
}

/** Every usage event of a stream inside the contract, and the stream read alike however sliced. */
function checkStream(
  createDecoder: () => StreamDecoder,
  body: string,
  slices: number[],
  knownFields: readonly string[],
): void {
  const events = decodeAll(createDecoder(), body, slices);
  for (const event of events) {
    if (event.type === "usage")
      expectInsideContract({ kind: "reported", usage: event.usage }, knownFields);
    if (event.type === "usage_rejected") {
      expectInsideContract({ kind: "rejected", rejection: event.rejection }, knownFields);
    }
  }
  expect(decodeAll(createDecoder(), body, [body.length + 1])).toEqual(events);
}

describe("properties: whatever the stream, its usage is inside the contract", () => {
  it("Anthropic: frames reordered, repeated, cut, with any counters", () => {
    const frame = fc.oneof(
      countersOf(ANTHROPIC_COUNTERS).map((counters) =>
        anthropicFrame({
          type: "message_start",
          message: { id: "m", model: "c", usage: counters },
        }),
      ),
      fc
        .record({
          counters: fc.option(countersOf(ANTHROPIC_COUNTERS)),
          stop: fc.option(fc.string({ maxLength: 10 })),
        })
        .map(({ counters, stop }) =>
          anthropicFrame({ type: "message_delta", delta: { stop_reason: stop }, usage: counters }),
        ),
      fc.string({ maxLength: 20 }).map((text) =>
        anthropicFrame({
          type: "content_block_delta",
          index: 0,
          delta: { type: "text_delta", text },
        }),
      ),
      fc.constant(anthropicFrame({ type: "ping" })),
    );
    fc.assert(
      fc.property(streamArbitrary(frame), (stream) => {
        checkStream(
          () => new AnthropicStreamDecoder(),
          streamBodyOf(stream),
          stream.slices,
          ANTHROPIC_FIELDS,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("Anthropic: a valid message_start's counts survive any message_delta nulls", () => {
    const valid = fc.integer({ min: 0, max: 1_000_000 });
    fc.assert(
      fc.property(
        fc.record({ input: valid, read: valid, write: valid, output: valid }),
        fc.record({
          input: fc.option(valid),
          read: fc.option(valid),
          write: fc.option(valid),
          output: valid,
        }),
        (start, delta) => {
          const body = anthropicStream(
            {
              input_tokens: start.input,
              cache_read_input_tokens: start.read,
              cache_creation_input_tokens: start.write,
              output_tokens: start.output,
            },
            {
              input_tokens: delta.input,
              cache_read_input_tokens: delta.read,
              cache_creation_input_tokens: delta.write,
              output_tokens: delta.output,
            },
          );
          const input = delta.input ?? start.input;
          const read = delta.read ?? start.read;
          const write = delta.write ?? start.write;
          expect(finalReading(decodeAll(new AnthropicStreamDecoder(), body))).toEqual({
            kind: "reported",
            usage: usage(input + read + write, read, write, delta.output, 0),
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("OpenAI: chunks reordered, repeated, cut, with any usage", () => {
    const frame = fc.oneof(
      openAIUsage.map(
        (counters) =>
          `data: ${JSON.stringify({ id: "c", model: "m", choices: [], usage: counters })}\n\n`,
      ),
      fc
        .record({
          text: fc.string({ maxLength: 20 }),
          finish: fc.option(fc.string({ maxLength: 10 })),
        })
        .map(
          ({ text, finish }) =>
            `data: ${JSON.stringify({ id: "c", model: "m", choices: [{ index: 0, delta: { content: text }, finish_reason: finish }], usage: null })}\n\n`,
        ),
    );
    fc.assert(
      fc.property(streamArbitrary(frame), (stream) => {
        checkStream(
          () => new OpenAIStreamDecoder(),
          streamBodyOf(stream, "data: [DONE]\n\n"),
          stream.slices,
          OPENAI_FIELDS,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("Gemini: chunks reordered, repeated, cut, with any usageMetadata", () => {
    const frame = fc
      .record({
        counters: fc.option(countersOf(GEMINI_COUNTERS)),
        text: fc.string({ maxLength: 20 }),
        finish: fc.option(fc.constantFrom("STOP", "MAX_TOKENS", "OTHER", "NEW_REASON")),
      })
      .map(
        ({ counters, text, finish }) =>
          `data: ${JSON.stringify({
            candidates: [{ content: { parts: [{ text }] }, finishReason: finish ?? undefined }],
            usageMetadata: counters ?? undefined,
          })}\n\n`,
      );
    fc.assert(
      fc.property(streamArbitrary(frame), (stream) => {
        checkStream(
          () => new GeminiStreamDecoder(),
          streamBodyOf(stream),
          stream.slices,
          GEMINI_FIELDS,
        );
      }),
      { numRuns: RUNS },
    );
  });
});
