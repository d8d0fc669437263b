// Usage when a vendor reports none (a stream cut off before its usage frame),
// or reports it outside the usage contract (vendors/usage-contract.ts):
// counted with OpenAI's o200k_base tokenizer (gpt-tokenizer). Exact for
// OpenAI's current models, an approximation for every other vendor's own
// tokenizer; events carry `usage_source: "estimated"` so nobody mistakes it
// for a vendor's bill. Counted in time linear in the text and bounded per
// estimate (token-count.ts), so no prompt or answer stalls the event loop.
import type { GatewayMetrics } from "./metrics.ts";
import {
  type NeutralRequest,
  type NormalizedUsage,
  textOf,
  type UsageReading,
  type UsageRejection,
} from "./neutral.ts";
import { TokenCounter } from "./token-count.ts";

// OpenAI's documented chat accounting: a few tokens of framing per message,
// and a few priming the reply.
const MESSAGE_OVERHEAD_TOKENS = 3;
const REPLY_PRIMING_TOKENS = 3;

/** Tokens of the prompt: system, messages and tool definitions. */
export function estimateInputTokens(
  request: NeutralRequest,
  counter: TokenCounter = new TokenCounter(),
): number {
  let tokens = REPLY_PRIMING_TOKENS;
  for (const part of request.system) tokens += MESSAGE_OVERHEAD_TOKENS + counter.count(part.text);
  for (const message of request.messages) {
    tokens += MESSAGE_OVERHEAD_TOKENS + counter.count(textOf(message.parts));
  }
  for (const tool of request.tools) {
    tokens += counter.count(
      `${tool.name} ${tool.description ?? ""} ${JSON.stringify(tool.parameters)}`,
    );
  }
  return tokens;
}

/**
 * The usage of an answer of which `outputText` arrived (text and tool
 * arguments). The answer is counted first, so it is the prompt that is
 * extrapolated when the two pass the counter's budget.
 */
export function estimateUsage(request: NeutralRequest, outputText: string): NormalizedUsage {
  const counter = new TokenCounter();
  const outputTokens = outputText === "" ? 0 : counter.count(outputText);
  return {
    inputTokens: estimateInputTokens(request, counter),
    cachedInputTokens: 0,
    cacheWriteInputTokens: 0,
    outputTokens,
    reasoningTokens: 0,
  };
}

/** The usage a completion records, and where it came from. */
export interface SettledUsage {
  usage: NormalizedUsage;
  source: "reported" | "estimated";
  /** Why the vendor's usage was refused; null when it was used, or none came. */
  rejection: UsageRejection | null;
}

/**
 * The vendor's usage when it reported one inside the contract; otherwise an
 * estimate, marked as such, with the refused usage's reason when there was one.
 */
export function settleUsage(
  reading: UsageReading | null,
  estimate: () => NormalizedUsage,
): SettledUsage {
  if (reading?.kind === "reported") {
    return { usage: reading.usage, source: "reported", rejection: null };
  }
  return {
    usage: estimate(),
    source: "estimated",
    rejection: reading?.kind === "rejected" ? reading.rejection : null,
  };
}

/** A stream's last reading: its usage, else its rejection, else none. */
export function readingOf(
  usage: NormalizedUsage | null,
  rejection: UsageRejection | null,
): UsageReading | null {
  if (usage) return { kind: "reported", usage };
  return rejection ? { kind: "rejected", rejection } : null;
}

/**
 * The completion's warnings: when the vendor's usage was refused, counted in
 * switchboard_usage_rejected_total and told first (the event keeps only the
 * first 20 warnings), naming the vendor's field and value, never its text.
 */
export function warningsAfterSettling(
  warnings: readonly string[],
  settled: SettledUsage,
  vendor: string,
  metrics: GatewayMetrics,
): readonly string[] {
  const rejection = settled.rejection;
  if (!rejection) return warnings;
  metrics.usageRejected.inc({ vendor, field: rejection.field });
  return [
    `usage_rejected: the vendor's ${rejection.field} was ${rejection.value} (${rejection.reason}); usage estimated`,
    ...warnings,
  ];
}
