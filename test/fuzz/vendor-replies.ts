// The vendor-side arbitrary: what a fake vendor answers one attempt with,
// described independently of its wire protocol (fake-vendor.ts writes it in
// OpenAI's, Anthropic's or Gemini's), and the usage the ledger must record
// for it. Usage counters are absent, null, zero, negative, fractional, huge,
// past 2^53, strings or objects; streams are cut, reordered, duplicated,
// dropped, broken by an error frame or by the connection.
import fc from "fast-check";
import { ANSWER_MARKER, pathologicalRun } from "./markers.ts";

/** One usage counter as the vendor writes it. */
export type Counter =
  | { kind: "absent" }
  | { kind: "null" }
  | { kind: "count"; value: number }
  /** A JSON number exactly as written: "1e400", "-5", "1.5", "9007199254740993", "1.0". */
  | { kind: "raw"; text: string }
  | { kind: "string"; text: string }
  | { kind: "json"; value: unknown };

/**
 * A usage object. Counters by position, the same meaning in every protocol:
 * 0 the input total, 1 the output total, 2 the cached part of the input,
 * 3 the other part (reasoning; Anthropic's cache writes), 4 an extra input
 * count (Gemini's tool-use prompt; elsewhere the total), 5 a total nobody reads.
 */
export interface UsageSpec {
  shape: "object" | "absent" | "null" | "not-object";
  counters: Counter[];
  /** What stands in for the object when shape is not-object. */
  notObject: unknown;
}

export interface StreamSpec {
  /** The text (and each tool's arguments) goes in this many deltas. */
  pieces: number;
  /** Where an error frame goes among the frames (modulo their count), or none. */
  errorFrameAt: number | null;
  mutations: { op: "duplicate" | "drop" | "swap"; at: number; other: number }[];
  /** The stream is cut after this share of its bytes (possibly inside a character), or whole. */
  cutAt: number | null;
  /** How the connection ends: cleanly, or torn down. */
  end: "clean" | "destroy";
  /** Shares of the bytes at which separate writes begin. */
  writes: number[];
}

export interface FinishSpec {
  kind: "absent" | "null" | "known" | "unknown";
  /** known: an index into the protocol's reasons; unknown: the text. */
  index: number;
  text: string;
}

export interface AnswerReply {
  kind: "answer";
  text: string | null;
  toolCalls: { name: string; arguments: string }[];
  reasoning: string | null;
  finish: FinishSpec;
  /** null: the model asked for, echoed. */
  model: string | null;
  usage: UsageSpec;
  /** Anthropic streams only: message_delta's usage (message_start carries `usage`). */
  deltaUsage: UsageSpec;
  /** A whole answer's body as sent; other-mode: a stream for a whole answer and the reverse. */
  body: "valid" | "not-json" | "cut-json" | "wrong-shape" | "empty" | "other-mode";
  /** cut-json: the share of the body kept. */
  cutAt: number;
  stream: StreamSpec;
  /** The vendor quotes the key it was sent (its Authorization header) in the answer text. */
  echoKey: boolean;
}

export interface ErrorReply {
  kind: "error";
  status: number;
  body: "vendor" | "text" | "empty" | "html";
  retryAfter: string | null;
  /** The vendor quotes the key it was sent in its error message, as some do for a 401. */
  echoKey: boolean;
}

export interface ResetReply {
  kind: "reset";
}

export type VendorReply = AnswerReply | ErrorReply | ResetReply;

/** What a fake vendor answers each attempt of one case with, in order (the last repeats). */
export interface VendorPlan {
  replies: VendorReply[];
}

// ── Counters ─────────────────────────────────────────────────────────────────────────────

/** A count well inside the contract; the contract's bound (10^9) is far above. */
const MAX_CLEAN_COUNT = 1_000_000;

const count = (value: number): Counter => ({ kind: "count", value });

const cleanCount = fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: MAX_CLEAN_COUNT }));

/** JSON numbers that are whole non-negative counts though not written as plain digits. */
const VALID_RAW_NUMBERS = ["-0", "1.0", "1e2", "0e0", "10E1", "0.0"];
/** JSON numbers outside the contract: negative, fractional, huge, past 2^53, infinite when read. */
export const INVALID_RAW_NUMBERS = [
  "-5",
  "-1",
  "1.5",
  "0.5",
  "1e15",
  "1e400",
  "-1e400",
  "9007199254740993",
  "1e300",
  "123456789012345",
  "4294967296000",
  "-0.0001",
];

export const messyCounter: fc.Arbitrary<Counter> = fc.oneof(
  { weight: 6, arbitrary: cleanCount.map(count) },
  { weight: 1, arbitrary: fc.constant<Counter>({ kind: "absent" }) },
  { weight: 1, arbitrary: fc.constant<Counter>({ kind: "null" }) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(...INVALID_RAW_NUMBERS)
      .map((text): Counter => ({ kind: "raw", text })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...VALID_RAW_NUMBERS)
      .map((text): Counter => ({ kind: "raw", text })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom("12", "", " 7", "1e3", ANSWER_MARKER, `${ANSWER_MARKER} tokens`)
      .map((text): Counter => ({ kind: "string", text })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<unknown>(true, false, {}, [], [3], { value: 3 })
      .map((value): Counter => ({ kind: "json", value })),
  },
);

/** Counters a real vendor would send: totals, parts no larger, optional ones sometimes left out. */
const cleanCounters: fc.Arbitrary<Counter[]> = fc
  .tuple(
    fc.integer({ min: 100, max: MAX_CLEAN_COUNT }),
    fc.integer({ min: 100, max: MAX_CLEAN_COUNT }),
    fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
    fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
    fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
    fc.option(cleanCount, { nil: undefined }),
  )
  .map((values) =>
    values.map((value): Counter => (value === undefined ? { kind: "absent" } : count(value))),
  );

const notObjects = fc.constantFrom<unknown>("12", 12, [], [1, 2], true, ANSWER_MARKER);

export const usageSpec: fc.Arbitrary<UsageSpec> = fc.record({
  shape: fc.constantFrom<UsageSpec["shape"]>(
    "object",
    "object",
    "object",
    "object",
    "object",
    "object",
    "absent",
    "null",
    "not-object",
  ),
  counters: fc.oneof(
    { weight: 3, arbitrary: cleanCounters },
    { weight: 2, arbitrary: fc.array(messyCounter, { minLength: 6, maxLength: 6 }) },
  ),
  notObject: notObjects,
});

/** message_delta's usage: mostly the output count with the rest absent or null (the SDK's case). */
const deltaUsageSpec: fc.Arbitrary<UsageSpec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        fc.constantFrom<Counter>({ kind: "absent" }, { kind: "null" }),
        fc.integer({ min: 100, max: MAX_CLEAN_COUNT }),
        fc.constantFrom<Counter>({ kind: "absent" }, { kind: "null" }),
        fc.constantFrom<Counter>({ kind: "absent" }, { kind: "null" }),
      )
      .map(
        ([input, output, cacheRead, cacheWrite]): UsageSpec => ({
          shape: "object",
          counters: [
            input,
            count(output),
            cacheRead,
            cacheWrite,
            { kind: "absent" },
            { kind: "absent" },
          ],
          notObject: null,
        }),
      ),
  },
  { weight: 2, arbitrary: usageSpec },
);

// ── Answers ──────────────────────────────────────────────────────────────────────────────

/** Answer texts, each carrying the answer marker where a heuristic's message would quote it. */
export const answerText: fc.Arbitrary<string> = fc.oneof(
  fc.constant(`${ANSWER_MARKER} The capital of France is Paris.`),
  fc.constant(`{"name":"${ANSWER_MARKER}","n":1}`),
  fc.constant(`{"${ANSWER_MARKER}":true}`),
  fc.constant(`{"name":"x","n":"${ANSWER_MARKER}"}`),
  fc.constant(`{"code":"${pathologicalRun}","note":"${ANSWER_MARKER}"}`),
  fc.constant(`${ANSWER_MARKER} {"name": not json`),
  fc.constant(`["${ANSWER_MARKER}"]`),
  fc.string({ unit: "binary", maxLength: 40 }).map((tail) => `${ANSWER_MARKER}${tail}`),
  fc.integer({ min: 1, max: 20_000 }).map((length) => `${ANSWER_MARKER}${"y".repeat(length)}`),
  fc.constant(""),
);

const toolArguments = fc.constantFrom(
  `{"q":"${ANSWER_MARKER}"}`,
  `{"${ANSWER_MARKER}":1}`,
  `${ANSWER_MARKER}{`,
  `{"code":"${pathologicalRun}"}`,
  "{}",
  "[]",
  "",
);

const toolCall = fc.record({
  name: fc.constantFrom("lookup", "get_weather", "f"),
  arguments: toolArguments,
});

const finishSpec: fc.Arbitrary<FinishSpec> = fc.record({
  kind: fc.constantFrom<FinishSpec["kind"]>("known", "known", "known", "absent", "null", "unknown"),
  index: fc.nat(),
  text: fc.oneof(
    fc.constantFrom("weird_reason", "STOP_REASON_NEW", "end", "MALFORMED", "pause_turn"),
    fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 200 }),
  ),
});

const streamSpec: fc.Arbitrary<StreamSpec> = fc.record({
  pieces: fc.integer({ min: 1, max: 4 }),
  errorFrameAt: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, fc.nat({ max: 20 })),
  mutations: fc.oneof(
    { weight: 7, arbitrary: fc.constant<StreamSpec["mutations"]>([]) },
    {
      weight: 3,
      arbitrary: fc.array(
        fc.record({
          op: fc.constantFrom("duplicate" as const, "drop" as const, "swap" as const),
          at: fc.nat({ max: 30 }),
          other: fc.nat({ max: 30 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    },
  ),
  cutAt: fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    fc.double({ min: 0, max: 1, noNaN: true }),
  ),
  end: fc.constantFrom<StreamSpec["end"]>("clean", "clean", "clean", "clean", "destroy"),
  writes: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
});

export const answerReply: fc.Arbitrary<AnswerReply> = fc.record({
  kind: fc.constant("answer" as const),
  text: fc.oneof({ weight: 5, arbitrary: answerText }, fc.constant(null)),
  toolCalls: fc.oneof(
    { weight: 4, arbitrary: fc.constant<AnswerReply["toolCalls"]>([]) },
    fc.array(toolCall, { minLength: 1, maxLength: 2 }),
  ),
  reasoning: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    fc.constant(`${ANSWER_MARKER} thinking it over`),
  ),
  finish: finishSpec,
  model: fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    fc.constantFrom("gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022", "gemini-2.0-flash", ""),
    fc.string({ unit: "grapheme-ascii", maxLength: 400 }),
  ),
  usage: usageSpec,
  deltaUsage: deltaUsageSpec,
  body: fc.constantFrom<AnswerReply["body"]>(
    ...(Array(17).fill("valid") as "valid"[]),
    "not-json",
    "cut-json",
    "wrong-shape",
    "empty",
    "other-mode",
  ),
  cutAt: fc.double({ min: 0, max: 1, noNaN: true }),
  stream: streamSpec,
  echoKey: fc.constantFrom(false, false, false, false, false, false, false, true),
});

export const errorReply: fc.Arbitrary<ErrorReply> = fc.record({
  kind: fc.constant("error" as const),
  status: fc.constantFrom(
    400,
    401,
    403,
    404,
    408,
    409,
    413,
    418,
    422,
    429,
    451,
    500,
    502,
    503,
    504,
    529,
    599,
    204,
    302,
  ),
  body: fc.constantFrom<ErrorReply["body"]>("vendor", "vendor", "text", "empty", "html"),
  retryAfter: fc.constantFrom(
    null,
    null,
    "0",
    "1",
    "30",
    "abc",
    "-1",
    "99999999999",
    "Wed, 21 Oct 2015 07:28:00 GMT",
  ),
  echoKey: fc.boolean(),
});

export const vendorReply: fc.Arbitrary<VendorReply> = fc.oneof(
  { weight: 16, arbitrary: answerReply },
  { weight: 3, arbitrary: errorReply },
  { weight: 1, arbitrary: fc.constant<ResetReply>({ kind: "reset" }) },
);

export const vendorPlan: fc.Arbitrary<VendorPlan> = fc.record({
  replies: fc.array(vendorReply, { minLength: 1, maxLength: 3 }),
});

// ── What the ledger must record ──────────────────────────────────────────────────────────

export type VendorProtocol = "openai" | "anthropic" | "gemini" | "embeddings";

/** The neutral usage (the event's columns). */
export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  cache_write_input_tokens: number;
  reasoning_tokens: number;
}

/**
 * What a vendor's usage must become: `reported` with these counts; `rejected`
 * (estimated, with a usage_rejected warning); `none` (estimated, no
 * warning); `unclear` where the contract leaves the reading to the adapter.
 */
export type ExpectedUsage =
  | { kind: "reported"; usage: Usage }
  | { kind: "rejected" }
  | { kind: "none" }
  | { kind: "unclear" };

/** A counter's value when it is a count inside the contract; null when absent or null; "invalid" else. */
function countOf(counter: Counter | undefined): number | null | "invalid" {
  if (!counter || counter.kind === "absent" || counter.kind === "null") return null;
  if (counter.kind === "count") return counter.value;
  if (counter.kind === "raw") {
    const value = Number(counter.text);
    // Generated raw numbers are either plainly valid or plainly outside the contract.
    return Number.isInteger(value) && value >= 0 && value <= MAX_CLEAN_COUNT
      ? value + 0
      : "invalid";
  }
  return "invalid";
}

/** The usage a whole answer's (or the final frame's) usage object must give. */
export function expectedUsage(protocol: VendorProtocol, usage: UsageSpec): ExpectedUsage {
  if (usage.shape === "absent" || usage.shape === "null") return { kind: "none" };
  if (usage.shape === "not-object") return { kind: "rejected" };
  const values = usage.counters.map(countOf);
  // Position 5 (and, but for Gemini, 4) is a total no adapter reads.
  const read =
    protocol === "gemini" ? [0, 1, 2, 3, 4] : protocol === "embeddings" ? [0] : [0, 1, 2, 3];
  if (read.some((position) => values[position] === "invalid")) return { kind: "rejected" };
  const at = (position: number) => (values[position] as number | null) ?? 0;
  const required = protocol === "gemini" || protocol === "embeddings" ? [0] : [0, 1];
  if (required.some((position) => values[position] === null)) return { kind: "rejected" };
  let result: Usage;
  switch (protocol) {
    case "openai":
      if (at(2) > at(0) || at(3) > at(1)) return { kind: "rejected" };
      result = {
        input_tokens: at(0),
        output_tokens: at(1),
        cached_input_tokens: at(2),
        cache_write_input_tokens: 0,
        reasoning_tokens: at(3),
      };
      break;
    case "anthropic":
      result = {
        input_tokens: at(0) + at(2) + at(3),
        output_tokens: at(1),
        cached_input_tokens: at(2),
        cache_write_input_tokens: at(3),
        reasoning_tokens: 0,
      };
      break;
    case "gemini":
      if (at(2) > at(0) + at(4)) return { kind: "rejected" };
      result = {
        input_tokens: at(0) + at(4),
        output_tokens: at(1) + at(3),
        cached_input_tokens: at(2),
        cache_write_input_tokens: 0,
        reasoning_tokens: at(3),
      };
      break;
    case "embeddings":
      result = {
        input_tokens: at(0),
        output_tokens: 0,
        cached_input_tokens: 0,
        cache_write_input_tokens: 0,
        reasoning_tokens: 0,
      };
      break;
  }
  return { kind: "reported", usage: result };
}

/**
 * An Anthropic stream's usage: message_start's counters, each replaced by
 * message_delta's where that one is a number (null and absent are skipped,
 * as Anthropic's SDK does). Unclear when message_delta sends a non-number.
 */
export function expectedAnthropicStreamUsage(start: UsageSpec, delta: UsageSpec): ExpectedUsage {
  if (start.shape !== "object") return { kind: "unclear" };
  if (delta.shape === "absent" || delta.shape === "null") return expectedUsage("anthropic", start);
  if (delta.shape === "not-object") return { kind: "unclear" };
  const merged = start.counters.map((counter, position) => {
    const later = delta.counters[position];
    if (!later || later.kind === "absent" || later.kind === "null") return counter;
    return later;
  });
  if (delta.counters.some((counter) => counter.kind === "string" || counter.kind === "json")) {
    return { kind: "unclear" };
  }
  return expectedUsage("anthropic", { ...start, counters: merged });
}

/** True when a stream reaches the gateway whole and in order, its usage where a vendor puts it. */
export function streamIsClean(reply: AnswerReply): boolean {
  const stream = reply.stream;
  return (
    reply.body === "valid" &&
    stream.errorFrameAt === null &&
    stream.mutations.length === 0 &&
    stream.cutAt === null &&
    stream.end === "clean"
  );
}
