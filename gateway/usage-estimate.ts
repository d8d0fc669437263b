// Usage when a vendor reports none (a stream cut off before its usage frame):
// counted with OpenAI's o200k_base tokenizer (gpt-tokenizer). Exact for
// OpenAI's current models, an approximation for every other vendor's own
// tokenizer; events carry `usage_source: "estimated"` so nobody mistakes it
// for a vendor's bill.
import { countTokens } from "gpt-tokenizer";
import { type NeutralRequest, type NormalizedUsage, textOf } from "./neutral.ts";

// OpenAI's documented chat accounting: a few tokens of framing per message,
// and a few priming the reply.
const MESSAGE_OVERHEAD_TOKENS = 3;
const REPLY_PRIMING_TOKENS = 3;

/** Tokens of the prompt: system, messages and tool definitions. */
export function estimateInputTokens(request: NeutralRequest): number {
  let tokens = REPLY_PRIMING_TOKENS;
  for (const part of request.system) tokens += MESSAGE_OVERHEAD_TOKENS + countTokens(part.text);
  for (const message of request.messages) {
    tokens += MESSAGE_OVERHEAD_TOKENS + countTokens(textOf(message.parts));
  }
  for (const tool of request.tools) {
    tokens += countTokens(
      `${tool.name} ${tool.description ?? ""} ${JSON.stringify(tool.parameters)}`,
    );
  }
  return tokens;
}

/** The usage of an answer of which `outputText` arrived (text and tool arguments). */
export function estimateUsage(request: NeutralRequest, outputText: string): NormalizedUsage {
  return {
    inputTokens: estimateInputTokens(request),
    cachedInputTokens: 0,
    cacheWriteInputTokens: 0,
    outputTokens: outputText === "" ? 0 : countTokens(outputText),
    reasoningTokens: 0,
  };
}
