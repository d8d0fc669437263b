// Quality heuristics the gateway scores on every answer it relays, published
// as quality_scored events with source `heuristic`:
//   truncated          true when the answer stopped at the token limit
//                      (finish `length`, Anthropic's `max_tokens`); only ever
//                      true: its count over the requests is the truncation rate
//   json_valid         when JSON was asked for (response_format json_object or
//                      json_schema): the text parses (json_object: as an object)
//   json_schema_valid  when a json_schema came with a schema: the parsed text
//                      satisfies it (ajv, JSON Schema 2020-12); false when it
//                      did not parse
//   tool_args_valid    when the answer called tools: every call's arguments
//                      parse as a JSON object
// The hot path pays nothing when the request asked for neither JSON nor tools
// and the answer was not cut: heuristicPlanFor returns null, no text is kept
// while streaming, and only the finish reason is read.
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { QualityValue } from "../events/schemas.ts";
import type { InboundProtocol, NeutralResponse, NeutralStreamEvent } from "./neutral.ts";
import { isRecord } from "./vendors/adapter.ts";

/** What a request asked for that can be checked in its answer; null when nothing (but truncation). */
export interface HeuristicPlan {
  json:
    | null
    | { kind: "json_object" }
    | { kind: "json_schema"; schema: Record<string, unknown> | null };
  tools: boolean;
}

export interface HeuristicScore {
  metric: "truncated" | "json_valid" | "json_schema_valid" | "tool_args_valid";
  value: QualityValue;
  /** Why it failed, for a person reading the event; never the answer's text. */
  comment: string | null;
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
  const tools = Array.isArray(body.tools) && body.tools.length > 0;
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
  return json || tools ? { json, tools } : null;
}

export function scoreAnswer(plan: HeuristicPlan | null, answer: ObservedAnswer): HeuristicScore[] {
  const scores: HeuristicScore[] = [];
  if (answer.truncated) {
    scores.push({ metric: "truncated", value: yes(true), comment: "stopped at the token limit" });
  }
  if (!plan || answer.overflowed) return scores;
  const cut = answer.truncated ? " (the answer was cut at the token limit)" : "";
  if (plan.json) {
    let parsed: unknown;
    let parseError: string | null = null;
    try {
      parsed = JSON.parse(answer.text);
      if (plan.json.kind === "json_object" && !isRecord(parsed)) parseError = "not a JSON object";
    } catch (error) {
      parseError = (error as Error).message;
    }
    scores.push({
      metric: "json_valid",
      value: yes(parseError === null),
      comment: parseError === null ? null : clip(`${parseError}${cut}`),
    });
    const validate = plan.json.kind === "json_schema" ? validatorFor(plan.json.schema) : null;
    if (validate) {
      const valid = parseError === null && validate(parsed) === true;
      const reason =
        parseError !== null
          ? "not JSON"
          : valid
            ? null
            : (validate.errors ?? [])
                .map((error) => `${error.instancePath || "/"} ${error.message ?? error.keyword}`)
                .join("; ");
      scores.push({
        metric: "json_schema_valid",
        value: yes(valid),
        comment: reason === null ? null : clip(`${reason}${cut}`),
      });
    }
  }
  if (answer.toolCalls.length > 0) {
    let failure: string | null = null;
    for (const call of answer.toolCalls) {
      try {
        if (!isRecord(JSON.parse(call.argumentsJson))) failure = `${call.name}: not a JSON object`;
      } catch (error) {
        failure = `${call.name}: ${(error as Error).message}`;
      }
      if (failure) break;
    }
    scores.push({
      metric: "tool_args_valid",
      value: yes(failure === null),
      comment: failure === null ? null : clip(`${failure}${cut}`),
    });
  }
  return scores;
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
): HeuristicScore[] {
  const truncated = translated
    ? translated.finishReason === "length"
    : rawFinishIsLength(protocol, rawAnswer);
  if (!plan && !truncated) return [];
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

  scores(): HeuristicScore[] {
    if (!this.plan && !this.truncated) return [];
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

// ── JSON Schema validators, compiled once per distinct schema ─────────────────────────────

const MAX_VALIDATORS = 256;
const validators = new Map<string, ValidateFunction | null>();
let ajv: Ajv2020 | undefined;

/** A compiled validator, or null when the schema does not compile (then nothing is scored). */
function validatorFor(schema: Record<string, unknown> | null): ValidateFunction | null {
  if (!schema) return null;
  const key = JSON.stringify(schema);
  const cached = validators.get(key);
  if (cached !== undefined) return cached;
  let validate: ValidateFunction | null;
  try {
    validate = compiler().compile(schema);
  } catch {
    validate = null;
  }
  if (validators.size >= MAX_VALIDATORS) {
    const oldest = validators.keys().next().value;
    if (oldest !== undefined) validators.delete(oldest);
  }
  validators.set(key, validate);
  return validate;
}

function compiler(): Ajv2020 {
  if (ajv) return ajv;
  // Not strict: clients' schemas carry vendor keywords (OpenAI's `strict`, titles, …).
  ajv = new Ajv2020({
    allErrors: false,
    strict: false,
    validateSchema: false,
    addUsedSchema: false,
  });
  // The `ajv-formats` CommonJS default export arrives wrapped under NodeNext typing.
  const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
  addFormats(ajv);
  return ajv;
}

function yes(value: boolean): QualityValue {
  return { type: "boolean", boolean: value };
}

function clip(text: string): string {
  return text.length > MAX_COMMENT ? `${text.slice(0, MAX_COMMENT - 1)}…` : text;
}
