// What a simulated model answers: a deterministic function of the request, so a test can
// predict the usage and the text, and every vendor given the same prompt answers alike.
import { EMPTY_TEXT_HASH, hashText, seededRandom } from "./seeded-random.ts";

/** The vendor-neutral request the behaviour works from; each wire protocol reads into it. */
export interface SimulatedRequest {
  model: string;
  /** The text of each message in order; parts that are not text count as no text. */
  messageTexts: string[];
  /** The most tokens the answer may have, when the client set a limit. */
  maxOutputTokens: number | undefined;
  /** Tools the model may call; empty for none. */
  tools?: SimulatedTool[];
  /** Whether a tool must, may or must not be called, or which one must. */
  toolChoice?: "auto" | "none" | "required" | { name: string };
  /** True when the conversation ends with a tool's result: the model then answers in text. */
  endsWithToolResult?: boolean;
}

export interface SimulatedTool {
  name: string;
  /** The JSON Schema of the arguments; the simulated call fills its required properties. */
  parameters: Record<string, unknown>;
}

/** The one function call an answer makes, instead of text. */
export interface SimulatedToolCall {
  id: string;
  name: string;
}

export interface SimulatedUsage {
  promptTokens: number;
  completionTokens: number;
}

export type FinishReason = "stop" | "length" | "tool_calls";

export interface SimulatedAnswer {
  /** One entry per completion token; joined they are the answer's text, or the call's arguments. */
  tokens: string[];
  finishReason: FinishReason;
  usage: SimulatedUsage;
  /** Set when the answer is a function call: `tokens` are then fragments of its JSON arguments. */
  toolCall?: SimulatedToolCall;
}

// The accounting OpenAI documents for chat: each message costs a few tokens of framing, and
// the reply is primed with a few more. Four characters to a token is its rule of thumb.
const MESSAGE_OVERHEAD_TOKENS = 3;
const REPLY_PRIMING_TOKENS = 3;
const CHARACTERS_PER_TOKEN = 4;

// An answer left alone runs between these lengths, chosen by the prompt's hash.
const SHORTEST_ANSWER_TOKENS = 16;
const LONGEST_ANSWER_TOKENS = 128;

const WORDS = (
  "the model routes each request to a vendor that answers quickly and cheaply while every " +
  "token is counted in a ledger whose events flow through kafka into clickhouse where analysts " +
  "compare cost quality and latency across tasks so contract renewals rest on facts not guesses"
).split(" ");
// Every token after the first carries its leading space, as real tokenizers do.
const SPACED_WORDS = WORDS.map((word) => ` ${word}`);

export function simulateUsage(request: SimulatedRequest): SimulatedUsage {
  return simulateAnswer(request).usage;
}

/**
 * A scripted answer, for tests that need a given reply (a grader that must pass or fail, an
 * answer that is not valid JSON, tool arguments that do not parse): the first script whose
 * `whenLastMessageContains` is in the last message's text (and whose `model`, if set, is the
 * request's) decides the answer, instead of the words drawn from the prompt's hash.
 */
export interface ScriptedReply {
  whenLastMessageContains: string;
  /** Only for this model id; every model when absent. */
  model?: string;
  /** The answer's text, exactly; one token per word with its trailing whitespace. */
  reply?: string;
  /**
   * Or a function call with these arguments as given: they need not be valid JSON, except
   * in Anthropic's whole answers, whose tool input is an object (the simulator answers 500).
   */
  toolCall?: { name: string; argumentsJson: string };
}

export function simulateAnswer(
  request: SimulatedRequest,
  scripts: readonly ScriptedReply[] = [],
): SimulatedAnswer {
  const script = scripts.length > 0 ? scriptFor(request, scripts) : undefined;
  if (script) return scriptedAnswer(request, script);
  const tool = toolToCall(request);
  if (tool) return callTool(request, tool);
  const { promptTokens, completionTokens, finishReason, promptHash } = measure(request);
  // Words drawn from the prompt's hash: the same prompt, the same answer, and a capped
  // answer is the start of the uncapped one.
  const random = seededRandom(promptHash);
  const tokens = new Array<string>(completionTokens);
  for (let index = 0; index < completionTokens; index++) {
    const choice = Math.floor(random() * WORDS.length);
    tokens[index] = (index === 0 ? WORDS[choice] : SPACED_WORDS[choice]) as string;
  }
  return { tokens, finishReason, usage: { promptTokens, completionTokens } };
}

function scriptFor(
  request: SimulatedRequest,
  scripts: readonly ScriptedReply[],
): ScriptedReply | undefined {
  const last = request.messageTexts.at(-1) ?? "";
  return scripts.find(
    (script) =>
      (script.model === undefined || script.model === request.model) &&
      last.includes(script.whenLastMessageContains),
  );
}

/** The script's text or call, cut at the request's token limit like any answer. */
function scriptedAnswer(request: SimulatedRequest, script: ScriptedReply): SimulatedAnswer {
  const { promptTokens, promptHash } = measure(request);
  const call = script.toolCall;
  const text = call ? call.argumentsJson : (script.reply ?? "");
  const all = call ? fragmentsOf(text) : (text.match(/\s*\S+\s*/g) ?? []);
  const limit = request.maxOutputTokens;
  const capped = limit !== undefined && limit < all.length;
  const tokens = capped ? all.slice(0, limit) : all;
  return {
    tokens,
    finishReason: capped ? "length" : call ? "tool_calls" : "stop",
    usage: { promptTokens, completionTokens: tokens.length },
    ...(call ? { toolCall: { id: `call_${promptHash.toString(36)}`, name: call.name } } : {}),
  };
}

function fragmentsOf(argumentsJson: string): string[] {
  const tokens: string[] = [];
  for (let start = 0; start < argumentsJson.length; start += CHARACTERS_PER_TOKEN) {
    tokens.push(argumentsJson.slice(start, start + CHARACTERS_PER_TOKEN));
  }
  return tokens;
}

function measure(request: SimulatedRequest) {
  let promptTokens = REPLY_PRIMING_TOKENS;
  let promptHash = EMPTY_TEXT_HASH;
  for (const text of request.messageTexts) {
    promptTokens += MESSAGE_OVERHEAD_TOKENS + Math.ceil(text.length / CHARACTERS_PER_TOKEN);
    promptHash = hashText(text, promptHash);
  }
  const naturalLength =
    SHORTEST_ANSWER_TOKENS + (promptHash % (LONGEST_ANSWER_TOKENS - SHORTEST_ANSWER_TOKENS + 1));
  const limit = request.maxOutputTokens;
  const capped = limit !== undefined && limit < naturalLength;
  return {
    promptTokens,
    completionTokens: capped ? limit : naturalLength,
    finishReason: (capped ? "length" : "stop") as FinishReason,
    promptHash,
  };
}

/** The tool a request makes the model call: forced, or the first one when calls are allowed. */
function toolToCall(request: SimulatedRequest): SimulatedTool | undefined {
  const tools = request.tools ?? [];
  const choice = request.toolChoice ?? "auto";
  if (tools.length === 0 || choice === "none" || request.endsWithToolResult) return undefined;
  if (typeof choice === "object")
    return tools.find((tool) => tool.name === choice.name) ?? tools[0];
  return tools[0];
}

/**
 * A deterministic call: every required property of the arguments filled with a value of
 * its type (the first enum value where there is one), the JSON cut into four-character
 * fragments, one token each, as a streaming vendor sends them.
 */
function callTool(request: SimulatedRequest, tool: SimulatedTool): SimulatedAnswer {
  const { promptTokens, promptHash } = measure(request);
  const tokens = fragmentsOf(JSON.stringify(argumentsFor(tool.parameters)));
  return {
    tokens,
    finishReason: "tool_calls",
    usage: { promptTokens, completionTokens: tokens.length },
    toolCall: { id: `call_${promptHash.toString(36)}`, name: tool.name },
  };
}

function argumentsFor(schema: Record<string, unknown>): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = Array.isArray(schema.required) ? (schema.required as string[]) : [];
  const values: Record<string, unknown> = {};
  for (const name of required) values[name] = valueFor(properties[name] ?? {});
  return values;
}

function valueFor(schema: Record<string, unknown>): unknown {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  switch (schema.type) {
    case "string":
      return WORDS[0];
    case "integer":
    case "number":
      return 1;
    case "boolean":
      return true;
    case "array":
      return [];
    case "object":
      return argumentsFor(schema);
    default:
      return null;
  }
}

// Embeddings: vectors drawn from each text's hash (the same text, the same vector), of unit
// length as real embedding models return them.
const DEFAULT_EMBEDDING_DIMENSIONS = 16;

export function simulateEmbeddings(
  texts: readonly string[],
  dimensions: number = DEFAULT_EMBEDDING_DIMENSIONS,
): { vectors: number[][]; promptTokens: number } {
  let promptTokens = 0;
  const vectors = texts.map((text) => {
    promptTokens += Math.max(1, Math.ceil(text.length / CHARACTERS_PER_TOKEN));
    const random = seededRandom(hashText(text));
    const vector = Array.from({ length: dimensions }, () => random() * 2 - 1);
    const norm = Math.hypot(...vector) || 1;
    return vector.map((value) => value / norm);
  });
  return { vectors, promptTokens };
}
