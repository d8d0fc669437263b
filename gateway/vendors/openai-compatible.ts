// The OpenAI Chat Completions wire protocol, spoken by OpenAI and by the
// OpenAI-compatible family (DeepSeek, Mistral, Groq, vLLM, Ollama, …).
import type { TokenUsage } from "../pricing.ts";

export const CHAT_COMPLETIONS_PATH = "/chat/completions";

/**
 * The upstream body: the client's request with the routed model, and usage
 * always asked for on streams — every cost is computed from it. Whether the
 * client sees the usage chunk is decided on the way back.
 */
export function toOpenAIRequestBody(request: Record<string, unknown>, model: string): string {
  const upstream: Record<string, unknown> = { ...request, model };
  if (request.stream === true) {
    const options = (request.stream_options ?? {}) as Record<string, unknown>;
    upstream.stream_options = { ...options, include_usage: true };
  }
  return JSON.stringify(upstream);
}

/** OpenAI's prompt_tokens already include the cached ones; we keep that meaning. */
export function fromOpenAIUsage(usage: unknown): TokenUsage | null {
  if (typeof usage !== "object" || usage === null) return null;
  const fields = usage as {
    prompt_tokens?: unknown;
    completion_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
  };
  if (typeof fields.prompt_tokens !== "number" || typeof fields.completion_tokens !== "number") {
    return null;
  }
  const cached = fields.prompt_tokens_details?.cached_tokens;
  return {
    inputTokens: fields.prompt_tokens,
    outputTokens: fields.completion_tokens,
    cachedInputTokens: typeof cached === "number" ? cached : 0,
  };
}

/** True for the extra chunk that carries only usage (sent when include_usage is on). */
export function isUsageOnlyChunk(chunk: { choices?: unknown; usage?: unknown }): boolean {
  return Array.isArray(chunk.choices) && chunk.choices.length === 0 && chunk.usage != null;
}

/** True once a chunk carries generated content: the moment time-to-first-token measures. */
export function carriesContent(chunk: { choices?: unknown }): boolean {
  if (!Array.isArray(chunk.choices)) return false;
  return chunk.choices.some((choice: { delta?: { content?: unknown; tool_calls?: unknown } }) => {
    const delta = choice?.delta;
    return (
      (typeof delta?.content === "string" && delta.content.length > 0) ||
      (Array.isArray(delta?.tool_calls) && delta.tool_calls.length > 0)
    );
  });
}
