import { z } from "zod";
import { GatewayError } from "./errors.ts";

// Strict on what routing and billing read, lenient on the rest: unknown fields
// pass through to the vendor untouched.
const contentPart = z.looseObject({ type: z.string() });
const message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
});

export const chatCompletionRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
});

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequest>;

/** Validates a client's body, naming the first offending field the way OpenAI does (`param`). */
export function parseChatCompletionRequest(body: unknown): ChatCompletionRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new GatewayError("invalid_request", "The request body must be a JSON object.");
  }
  const result = chatCompletionRequest.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue ? formatPath(issue.path) : null;
  throw new GatewayError("invalid_request", `Invalid value for '${param}': ${issue?.message}`, {
    param,
  });
}

function formatPath(path: PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`,
    )
    .join("");
}
