// OpenAI's Embeddings API as clients speak it (POST /v1/embeddings). Every
// vendor here that embeds speaks this same protocol, so the request goes up
// as the client wrote it (with the routed model) and the answer comes back
// byte for byte; the gateway reads only the usage.
import { z } from "zod";
import type { UsageReading } from "../neutral.ts";
import { readUsage } from "../vendors/usage-contract.ts";
import { parseStrictly, requestedModel } from "./inbound-api.ts";

export const embeddingsRequest = z.looseObject({
  model: requestedModel,
  input: z.union([
    z.string(),
    z.array(z.string()).min(1).max(2048),
    z.array(z.number().int().min(0)).min(1),
    z
      .array(z.array(z.number().int().min(0)).min(1))
      .min(1)
      .max(2048),
  ]),
  encoding_format: z.enum(["float", "base64"]).optional(),
  dimensions: z.number().int().positive().optional(),
  user: z.string().optional(),
});

export type EmbeddingsRequest = z.infer<typeof embeddingsRequest>;

export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  return parseStrictly(embeddingsRequest, body);
}

/** The texts to embed, for an estimate when a vendor reports no usage (token arrays count as they are). */
export function inputTextsOf(request: EmbeddingsRequest): { texts: string[]; tokens: number } {
  const input = request.input;
  if (typeof input === "string") return { texts: [input], tokens: 0 };
  if (input.every((item) => typeof item === "string"))
    return { texts: input as string[], tokens: 0 };
  if (input.every((item) => typeof item === "number")) return { texts: [], tokens: input.length };
  return { texts: [], tokens: (input as number[][]).reduce((sum, item) => sum + item.length, 0) };
}

/** An embeddings answer's usage, under the usage contract: prompt tokens only, nothing generated. */
export function fromOpenAIEmbeddingsUsage(usage: unknown): UsageReading | null {
  return readUsage(usage, "usage", (counters) => ({
    inputTokens: counters.required("prompt_tokens"),
    cachedInputTokens: 0,
    cacheWriteInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
  }));
}
