// Quality heuristics the gateway scores on every answer it relays, published
// as quality_scored events with source `heuristic`:
//   truncated            true when the answer stopped at the token limit
//                        (finish `length`, Anthropic's `max_tokens`); only ever
//                        true: its count over the requests is the truncation rate
//   json_valid           when JSON was asked for (response_format json_object or
//                        json_schema): the text parses (json_object: as an object)
//   json_schema_valid    when a json_schema came with a schema: the parsed text
//                        satisfies it (ajv, JSON Schema 2020-12, off the event
//                        loop: schema-check/); false when it did not parse
//   json_schema_skipped  when that check could not be made: a category saying
//                        why (schema-check/schema-checker.ts, SkipReason)
//   tool_args_valid      when the answer called tools: every call's arguments
//                        parse as a JSON object
// Comments are fixed phrases, JSON pointers and the request's own tool names,
// never the answer's text: a JSON parse error's message quotes the answer, so
// it is never used, and schema errors are described by schema-check/schema-errors.ts.
// The hot path pays nothing when the request asked for neither JSON nor tools
// and the answer was not cut: heuristicPlanFor returns null, no text is kept
// while streaming, and only the finish reason is read.
import type { QualityValue } from "../events/schemas.ts";
import type { InboundProtocol, NeutralResponse, NeutralStreamEvent } from "./neutral.ts";
import {
  SchemaChecker,
  type SchemaVerdict,
  type SkipReason,
} from "./schema-check/schema-checker.ts";
import { isRecord } from "./vendors/adapter.ts";

/** What a request asked for that can be checked in its answer; null when nothing (but truncation). */
export interface HeuristicPlan {
  json:
    | null
    | { kind: "json_object" }
    | { kind: "json_schema"; schema: Record<string, unknown> | null };
  tools: boolean;
  /** The client's `tools`, as sent: a call's name is written in a comment only when declared there. */
  declaredTools: readonly unknown[];
}

export interface HeuristicScore {
  metric:
    | "truncated"
    | "json_valid"
    | "json_schema_valid"
    | "json_schema_skipped"
    | "tool_args_valid";
  value: QualityValue;
  /** Why it failed, for a person reading the event; never the answer's text. */
  comment: string | null;
}

/** An answer's scores: those known at once, and the schema check's, which comes later. */
export interface ScoredAnswer {
  now: HeuristicScore[];
  later: Promise<HeuristicScore[]> | null;
}

/** Where a request's scores are published: its RequestLedger. */
export interface ScoreTarget {
  heuristicScores(scores: readonly HeuristicScore[]): void;
}

/** An answer as the heuristics read it, whole or gathered from a stream. */
export interface ObservedAnswer {
  text: string;
  toolCalls: readonly { name: string; argumentsJson: string }[];
  truncated: boolean;
  /** The stream's output passed MAX_CAPTURED_CHARACTERS: JSON and tool checks are skipped. */
  overflowed?: boolean;
}

/** Most characters of text and tool arguments kept from one streamed answer for the checks. */
export const MAX_CAPTURED_CHARACTERS = 1_048_576;

const MAX_COMMENT = 500;

/** From the client's validated body, once per request: two property reads. */
export function heuristicPlanFor(
  protocol: InboundProtocol,
  body: Record<string, unknown>,
): HeuristicPlan | null {
  const declaredTools = Array.isArray(body.tools) ? body.tools : [];
  const tools = declaredTools.length > 0;
  let json: HeuristicPlan["json"] = null;
  // Anthropic's Messages API has no response_format: only its tools are checked.
  const format = protocol === "openai" ? body.response_format : undefined;
  if (isRecord(format)) {
    if (format.type === "json_object") json = { kind: "json_object" };
    else if (format.type === "json_schema") {
      const schema = isRecord(format.json_schema) ? format.json_schema.schema : undefined;
      json = { kind: "json_schema", schema: isRecord(schema) ? schema : null };
    }
  }
  return json || tools ? { json, tools, declaredTools } : null;
}

export function scoreAnswer(plan: HeuristicPlan | null, answer: ObservedAnswer): ScoredAnswer {
  const now: HeuristicScore[] = [];
  let later: Promise<HeuristicScore[]> | null = null;
  if (answer.truncated) {
    now.push({ metric: "truncated", value: yes(true), comment: "stopped at the token limit" });
  }
  if (!plan || answer.overflowed) return { now, later };
  const cut = answer.truncated ? " (the answer was cut at the token limit)" : "";
  if (plan.json) {
    let parseError: string | null = null;
    try {
      const parsed: unknown = JSON.parse(answer.text);
      if (plan.json.kind === "json_object" && !isRecord(parsed)) parseError = "not a JSON object";
    } catch (error) {
      parseError = jsonParseFailure(error);
    }
    now.push({
      metric: "json_valid",
      value: yes(parseError === null),
      comment: parseError === null ? null : clip(`${parseError}${cut}`),
    });
    if (plan.json.kind === "json_schema" && plan.json.schema) {
      if (parseError !== null) {
        now.push({ metric: "json_schema_valid", value: yes(false), comment: `not JSON${cut}` });
      } else {
        later = checkSchema(plan.json.schema, answer.text, cut);
      }
    }
  }
  if (answer.toolCalls.length > 0) {
    let failure: string | null = null;
    for (const [index, call] of answer.toolCalls.entries()) {
      try {
        if (!isRecord(JSON.parse(call.argumentsJson))) failure = "not a JSON object";
      } catch (error) {
        failure = jsonParseFailure(error);
      }
      if (failure) {
        // The call's name is the vendor's: written only when the client declared that tool.
        const name = isDeclaredTool(plan.declaredTools, call.name)
          ? call.name
          : `tool call ${index + 1}`;
        failure = `${name}: arguments are ${failure}`;
        break;
      }
    }
    now.push({
      metric: "tool_args_valid",
      value: yes(failure === null),
      comment: failure === null ? null : clip(`${failure}${cut}`),
    });
  }
  return { now, later };
}

/**
 * Publishes an answer's scores to its request's ledger: those known at once
 * now, the schema check's when it comes. A late one that cannot be published
 * (the event log closed first) is logged, never thrown.
 */
export function publishScores(
  scored: ScoredAnswer,
  ledger: ScoreTarget,
  log: { warn(details: object, message: string): void },
): void {
  ledger.heuristicScores(scored.now);
  if (!scored.later) return;
  const published = scored.later
    .then((scores) => ledger.heuristicScores(scores))
    .catch((error: unknown) =>
      log.warn(
        { err: error },
        "a heuristic score (the JSON Schema check) came too late to be published",
      ),
    );
  pendingPublications.add(published);
  void published.finally(() => pendingPublications.delete(published));
}

const pendingPublications = new Set<Promise<void>>();

/**
 * Resolves once every schema check begun so far is published, or after
 * `waitMs` (tests, and a gateway closing: its scores go out before the sink closes).
 */
export async function heuristicScoresPublished(waitMs = Number.POSITIVE_INFINITY): Promise<void> {
  const deadline = performance.now() + waitMs;
  while (pendingPublications.size > 0 && performance.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      if (Number.isFinite(waitMs)) timer = setTimeout(resolve, deadline - performance.now());
    });
    await Promise.race([Promise.allSettled([...pendingPublications]), timeout]);
    clearTimeout(timer);
  }
}

/**
 * A whole answer's scores. `readNeutral` gives the answer in the neutral model
 * (the translated answer, or the pass-through body read by the adapter): it is
 * called only when something is to be checked.
 */
export function scoreWholeAnswer(
  plan: HeuristicPlan | null,
  protocol: InboundProtocol,
  translated: NeutralResponse | undefined,
  rawAnswer: unknown,
  readNeutral: () => NeutralResponse,
): ScoredAnswer {
  const truncated = translated
    ? translated.finishReason === "length"
    : rawFinishIsLength(protocol, rawAnswer);
  if (!plan && !truncated) return { now: [], later: null };
  if (!plan) return scoreAnswer(null, { text: "", toolCalls: [], truncated });
  let neutral: NeutralResponse;
  try {
    neutral = translated ?? readNeutral();
  } catch {
    return scoreAnswer(null, { text: "", toolCalls: [], truncated });
  }
  let text = "";
  const toolCalls: { name: string; argumentsJson: string }[] = [];
  for (const part of neutral.parts) {
    if (part.type === "text") text += part.text;
    else if (part.type === "tool_call")
      toolCalls.push({ name: part.name, argumentsJson: part.argumentsJson });
  }
  return scoreAnswer(plan, { text, toolCalls, truncated });
}

/** The finish reason of an untranslated answer, without reading the rest of it. */
function rawFinishIsLength(protocol: InboundProtocol, answer: unknown): boolean {
  if (!isRecord(answer)) return false;
  if (protocol === "anthropic") return answer.stop_reason === "max_tokens";
  const first = Array.isArray(answer.choices) ? answer.choices[0] : undefined;
  return isRecord(first) && first.finish_reason === "length";
}

/**
 * Gathers what the heuristics need from a relayed stream, as it passes:
 * always the finish reason; text only when JSON was asked for, tool-call
 * arguments only when tools were given, both up to MAX_CAPTURED_CHARACTERS.
 */
export class StreamCapture {
  private text = "";
  private readonly calls: { name: string; argumentsJson: string }[] = [];
  private captured = 0;
  private overflowed = false;
  private truncated = false;

  constructor(private readonly plan: HeuristicPlan | null) {}

  /** Whether it reads every chunk (JSON or tools asked for), not only those that end a choice. */
  get readsEveryChunk(): boolean {
    return this.plan !== null;
  }

  /** Neutral stream events (across protocols, and Anthropic pass-through). */
  neutral(event: NeutralStreamEvent): void {
    switch (event.type) {
      case "finish":
        if (event.finishReason === "length") this.truncated = true;
        break;
      case "text_delta":
        if (this.plan?.json) this.addText(event.text);
        break;
      case "tool_call_start":
        if (this.plan?.tools) this.callAt(event.index).name = event.name;
        break;
      case "tool_call_delta":
        if (this.plan?.tools) this.addArguments(event.index, event.argumentsJson);
        break;
      default:
        break;
    }
  }

  /** An OpenAI `chat.completion.chunk`, as relayed OpenAI to OpenAI (first choice only). */
  openAIChunk(chunk: Record<string, unknown>): void {
    const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
    if (!isRecord(choice)) return;
    if (choice.finish_reason === "length") this.truncated = true;
    if (!this.plan || !isRecord(choice.delta)) return;
    const delta = choice.delta;
    if (this.plan.json && typeof delta.content === "string") this.addText(delta.content);
    if (this.plan.tools && Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) {
        if (!isRecord(call)) continue;
        const index = typeof call.index === "number" ? call.index : 0;
        const fn = isRecord(call.function) ? call.function : null;
        if (typeof fn?.name === "string") this.callAt(index).name = fn.name;
        if (typeof fn?.arguments === "string") this.addArguments(index, fn.arguments);
      }
    }
  }

  scored(): ScoredAnswer {
    if (!this.plan && !this.truncated) return { now: [], later: null };
    return scoreAnswer(this.plan, {
      text: this.text,
      toolCalls: this.calls.filter((call) => call !== undefined),
      truncated: this.truncated,
      overflowed: this.overflowed,
    });
  }

  private callAt(index: number): { name: string; argumentsJson: string } {
    // Indexes come from the vendor: a sparse or huge one must not grow an array.
    const safe = index >= 0 && index < 128 ? index : this.calls.length;
    this.calls[safe] ??= { name: "", argumentsJson: "" };
    return this.calls[safe];
  }

  private addText(text: string): void {
    if (this.keep(text.length)) this.text += text;
  }

  private addArguments(index: number, fragment: string): void {
    if (this.keep(fragment.length)) this.callAt(index).argumentsJson += fragment;
  }

  private keep(characters: number): boolean {
    if (this.overflowed) return false;
    this.captured += characters;
    if (this.captured > MAX_CAPTURED_CHARACTERS) {
      this.overflowed = true;
      this.text = "";
      this.calls.length = 0;
      return false;
    }
    return true;
  }
}

// ── The JSON Schema check, on the checker's thread ───────────────────────────────────────

let checker: SchemaChecker | undefined;

/** The process's one checker, its thread started at the first check. */
function schemaChecker(): SchemaChecker {
  checker ??= new SchemaChecker();
  return checker;
}

async function checkSchema(
  schema: Record<string, unknown>,
  text: string,
  cut: string,
): Promise<HeuristicScore[]> {
  let verdict: SchemaVerdict;
  if (text.length > MAX_CAPTURED_CHARACTERS) {
    verdict = { kind: "skipped", reason: "answer_too_long" };
  } else {
    let schemaJson: string | null = null;
    try {
      schemaJson = JSON.stringify(schema);
    } catch {
      // Too deep to write: the body parser's depth bound should have refused it already.
    }
    verdict =
      schemaJson === null
        ? { kind: "skipped", reason: "schema_not_compiled" }
        : await schemaChecker().check(schemaJson, text);
  }
  switch (verdict.kind) {
    case "valid":
      return [{ metric: "json_schema_valid", value: yes(true), comment: null }];
    case "invalid":
      return [
        {
          metric: "json_schema_valid",
          value: yes(false),
          comment: clip(`${verdict.comment}${cut}`),
        },
      ];
    case "skipped":
      return [
        {
          metric: "json_schema_skipped",
          value: { type: "category", category: verdict.reason },
          comment: SKIP_COMMENTS[verdict.reason],
        },
      ];
  }
}

const SKIP_COMMENTS: Record<SkipReason, string> = {
  unsupported_pattern:
    "not checked: the schema has a pattern the linear-time engine cannot run (a backreference, lookaround, or syntax RE2 lacks)",
  schema_not_compiled: "not checked: the schema does not compile",
  time_limit: "not checked: the check passed its time bound",
  memory_limit: "not checked: the check passed its memory bound",
  checker_busy: "not checked: too many checks were waiting",
  checker_failed: "not checked: the checker failed",
  answer_too_long: "not checked: the answer is longer than the checker takes",
};

/** A fixed phrase for a JSON.parse failure: its message quotes the text, so only a position is kept. */
function jsonParseFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : "";
  if (/end of JSON input|Unterminated/.test(message)) return "not valid JSON: it ends too early";
  const position = /at position (\d{1,10})/.exec(message)?.[1];
  return position === undefined ? "not valid JSON" : `not valid JSON at character ${position}`;
}

/** Whether the client's `tools` (OpenAI's `function.name`, Anthropic's `name`) declare this name. */
function isDeclaredTool(declaredTools: readonly unknown[], name: string): boolean {
  return declaredTools.some(
    (tool) =>
      isRecord(tool) &&
      (tool.name === name || (isRecord(tool.function) && tool.function.name === name)),
  );
}

function yes(value: boolean): QualityValue {
  return { type: "boolean", boolean: value };
}

function clip(text: string): string {
  return text.length > MAX_COMMENT ? `${text.slice(0, MAX_COMMENT - 1)}…` : text;
}
