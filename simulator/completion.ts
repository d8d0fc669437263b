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
}

export interface SimulatedUsage {
  promptTokens: number;
  completionTokens: number;
}

export type FinishReason = "stop" | "length";

export interface SimulatedAnswer {
  /** One entry per completion token; joined they are the answer's text. */
  tokens: string[];
  finishReason: FinishReason;
  usage: SimulatedUsage;
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
  const { promptTokens, completionTokens } = measure(request);
  return { promptTokens, completionTokens };
}

export function simulateAnswer(request: SimulatedRequest): SimulatedAnswer {
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
