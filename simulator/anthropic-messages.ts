// Anthropic's Messages wire protocol (POST /v1/messages), byte for byte: the request body it
// accepts, the `message` object, the SSE event sequence (message_start, content_block_start,
// ping, content_block_delta, content_block_stop, message_delta with cumulative usage,
// message_stop), and its error bodies. Shapes follow the exchanges Anthropic's SDK recorded
// (test/reference/anthropic-sdk-python/); the tests validate against the API's wire shapes
// (test/fixtures/anthropic/messages-api.schema.json).
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { z } from "zod";
import type { SimulatedAnswer, SimulatedRequest, SimulatedTool } from "./completion.ts";
import type {
  CompletionCall,
  Endpoint,
  WireProtocol,
  WireResponse,
  WireStream,
} from "./wire-protocol.ts";

// ── The request ─────────────────────────────────────────────────────────────────────────────

const textBlock = z.looseObject({ type: z.literal("text"), text: z.string() });
const block = z.looseObject({ type: z.string() });

const messagesRequestSchema = z.looseObject({
  model: z.string(),
  max_tokens: z.int().min(1),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(["user", "assistant"]),
        content: z.union([z.string(), z.array(block)]),
      }),
    )
    .min(1),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  stream: z.boolean().optional(),
  tools: z
    .array(z.looseObject({ name: z.string(), input_schema: z.looseObject({}).optional() }))
    .optional(),
  tool_choice: z
    .looseObject({ type: z.enum(["auto", "any", "tool", "none"]), name: z.string().optional() })
    .optional(),
  // The simulated organisation has no Priority Tier capacity: both are served at standard,
  // which usage.service_tier says.
  service_tier: z.enum(["auto", "standard_only"]).optional(),
});

type MessagesRequest = z.infer<typeof messagesRequestSchema>;

function textOfContent(content: MessagesRequest["messages"][number]["content"]): string {
  if (typeof content === "string") return content;
  let text = "";
  for (const part of content) {
    if (part.type === "text" && typeof part.text === "string") text += part.text;
    else if (part.type === "tool_result") {
      const result = part.content;
      if (typeof result === "string") text += result;
      else if (Array.isArray(result)) {
        for (const item of result) if (typeof item?.text === "string") text += item.text;
      }
    }
  }
  return text;
}

function fromMessagesRequest(request: MessagesRequest): SimulatedRequest {
  const texts: string[] = [];
  if (typeof request.system === "string") texts.push(request.system);
  else if (request.system) texts.push(request.system.map((part) => part.text).join(""));
  for (const message of request.messages) texts.push(textOfContent(message.content));
  const tools: SimulatedTool[] = (request.tools ?? []).map((tool) => ({
    name: tool.name,
    parameters: (tool.input_schema ?? {}) as Record<string, unknown>,
  }));
  const choice = request.tool_choice;
  const last = request.messages.at(-1);
  return {
    model: request.model,
    messageTexts: texts,
    maxOutputTokens: request.max_tokens,
    tools,
    toolChoice:
      choice?.type === "tool" && choice.name
        ? { name: choice.name }
        : choice?.type === "any"
          ? "required"
          : choice?.type === "none"
            ? "none"
            : "auto",
    endsWithToolResult:
      last?.role === "user" &&
      Array.isArray(last.content) &&
      last.content.some((part) => part.type === "tool_result"),
  };
}

// ── Responses ───────────────────────────────────────────────────────────────────────────────

const ID_TAG = randomBytes(8).toString("hex");
let counter = 0;
function nextId(prefix: string): string {
  counter += 1;
  return `${prefix}${ID_TAG}${counter.toString(36).padStart(8, "0")}`;
}

function headers(contentType: string): Record<string, string> {
  return { "content-type": contentType, "request-id": nextId("req_") };
}

function anthropicError(
  status: number,
  type: string,
  message: string,
  extra: Record<string, string> = {},
): WireResponse {
  const requestId = nextId("req_");
  return {
    status,
    headers: { "content-type": "application/json", "request-id": requestId, ...extra },
    body: JSON.stringify({ type: "error", error: { type, message }, request_id: requestId }),
  };
}

const STOP_REASONS = { stop: "end_turn", length: "max_tokens", tool_calls: "tool_use" } as const;

function usageOf(answer: SimulatedAnswer, outputTokens: number) {
  return {
    input_tokens: answer.usage.promptTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: outputTokens,
    service_tier: "standard",
  };
}

function toolUseIdOf(answer: SimulatedAnswer): string {
  return `toolu_${answer.toolCall?.id.replace(/^call_/, "") ?? "0"}`;
}

function toMessage(request: MessagesRequest, answer: SimulatedAnswer): WireResponse {
  const content = answer.toolCall
    ? [
        {
          type: "tool_use",
          id: toolUseIdOf(answer),
          name: answer.toolCall.name,
          input: JSON.parse(answer.tokens.join("") || "{}"),
        },
      ]
    : [{ type: "text", text: answer.tokens.join("") }];
  return {
    status: 200,
    headers: headers("application/json"),
    body: JSON.stringify({
      id: nextId("msg_"),
      type: "message",
      role: "assistant",
      model: request.model,
      content,
      stop_reason: STOP_REASONS[answer.finishReason],
      stop_sequence: null,
      usage: usageOf(answer, answer.usage.completionTokens),
    }),
  };
}

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

class MessageEventStream implements WireStream {
  readonly headers = {
    ...headers("text/event-stream; charset=utf-8"),
    "cache-control": "no-cache",
  };

  constructor(
    private readonly request: MessagesRequest,
    private readonly answer: SimulatedAnswer,
  ) {}

  opening(): string {
    const call = this.answer.toolCall;
    const block = call
      ? { type: "tool_use", id: toolUseIdOf(this.answer), name: call.name, input: {} }
      : { type: "text", text: "" };
    return (
      event("message_start", {
        message: {
          id: nextId("msg_"),
          type: "message",
          role: "assistant",
          model: this.request.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          // As the live API does: the input count up front, output 1 until message_delta.
          usage: usageOf(this.answer, 1),
        },
      }) +
      event("content_block_start", { index: 0, content_block: block }) +
      event("ping", {})
    );
  }

  token(text: string): string {
    const delta = this.answer.toolCall
      ? { type: "input_json_delta", partial_json: text }
      : { type: "text_delta", text };
    return event("content_block_delta", { index: 0, delta });
  }

  closing(): string {
    return (
      event("content_block_stop", { index: 0 }) +
      event("message_delta", {
        delta: { stop_reason: STOP_REASONS[this.answer.finishReason], stop_sequence: null },
        // Cumulative for the whole message, as the live API reports them.
        usage: {
          input_tokens: this.answer.usage.promptTokens,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: this.answer.usage.completionTokens,
        },
      }) +
      event("message_stop", {})
    );
  }
}

class MessagesCall implements CompletionCall {
  readonly request: SimulatedRequest;
  readonly stream: boolean;

  constructor(private readonly body: MessagesRequest) {
    this.request = fromMessagesRequest(body);
    this.stream = body.stream === true;
  }

  respond(answer: SimulatedAnswer): WireResponse {
    return toMessage(this.body, answer);
  }

  streamed(answer: SimulatedAnswer): WireStream {
    return new MessageEventStream(this.body, answer);
  }
}

// ── The protocol ──────────────────────────────────────────────────────────────────────────

export const anthropicMessages: WireProtocol = {
  endpointOf(method: string, pathname: string): Endpoint | undefined {
    return method === "POST" && pathname === "/v1/messages" ? "completion" : undefined;
  },

  // The API takes `x-api-key`, or a bearer token (as @anthropic-ai/sdk 1.x sends it).
  rejectUnauthenticated(headers: IncomingHttpHeaders) {
    const key = headers["x-api-key"];
    if (typeof key === "string" && key.trim() !== "") return undefined;
    const bearer = /^Bearer\s+(\S+)/i.exec(headers.authorization ?? "");
    if (bearer) return undefined;
    return anthropicError(401, "authentication_error", "x-api-key header is required");
  },

  readCompletion(body: string) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return {
        accepted: false,
        rejection: anthropicError(
          400,
          "invalid_request_error",
          "There was an error parsing the body of your request",
        ),
      };
    }
    const result = messagesRequestSchema.safeParse(parsed);
    if (result.success) return { accepted: true, call: new MessagesCall(result.data) };
    const issue = result.error.issues[0];
    const path = issue?.path.join(".") ?? "";
    const message =
      issue?.code === "invalid_type" && issue.input === undefined
        ? "Field required"
        : issue?.message;
    return {
      accepted: false,
      rejection: anthropicError(400, "invalid_request_error", `${path}: ${message}`),
    };
  },

  models(models) {
    return {
      status: 200,
      headers: headers("application/json"),
      body: JSON.stringify({
        data: models.map((model) => ({
          type: "model",
          id: model.id,
          display_name: model.id,
          created_at: "2025-01-01T00:00:00Z",
        })),
        has_more: false,
        first_id: models[0]?.id ?? null,
        last_id: models.at(-1)?.id ?? null,
      }),
    };
  },

  unknownModel(modelId: string) {
    return anthropicError(404, "not_found_error", `model: ${modelId}`);
  },

  unknownEndpoint() {
    return anthropicError(404, "not_found_error", "Not Found");
  },

  rateLimited(_modelId: string, retryAfterSeconds: number) {
    return anthropicError(
      429,
      "rate_limit_error",
      "This request would exceed the rate limit for your organization of 50 requests per minute. Please try again later.",
      { "retry-after": String(retryAfterSeconds), "x-should-retry": "true" },
    );
  },

  serverError() {
    return anthropicError(500, "api_error", "Internal server error", { "x-should-retry": "true" });
  },

  overloaded() {
    return anthropicError(529, "overloaded_error", "Overloaded", { "x-should-retry": "true" });
  },

  streamErrorFrame() {
    return `event: error\ndata: ${JSON.stringify({
      type: "error",
      error: { type: "overloaded_error", message: "Overloaded" },
    })}\n\n`;
  },
};
