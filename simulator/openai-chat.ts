// OpenAI's Chat Completions wire protocol, byte for byte: the request body it accepts, the
// `chat.completion` object, the `chat.completion.chunk` SSE stream, and its error bodies.
// Shapes follow the API as it answers today and its OpenAPI description
// (test/reference/openai-openapi/openapi.yaml); the tests validate against the latter.
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { z } from "zod";
import type { SimulatedAnswer, SimulatedRequest, SimulatedUsage } from "./completion.ts";
import { hashText } from "./seeded-random.ts";
import type {
  CompletionCall,
  Endpoint,
  ReadCompletion,
  ReadEmbeddings,
  SimulatedModel,
  WireProtocol,
  WireResponse,
  WireStream,
} from "./wire-protocol.ts";

// ── The request ─────────────────────────────────────────────────────────────────────────────
// Strict about what the simulator reads, loose about everything else: fields it does not
// use (temperature, tools, response_format, …) pass, as they would at OpenAI.

const contentPart = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text"), text: z.string() }),
  z.looseObject({ type: z.literal("image_url"), image_url: z.looseObject({ url: z.string() }) }),
  z.looseObject({
    type: z.literal("input_audio"),
    input_audio: z.looseObject({ data: z.string(), format: z.string() }),
  }),
  z.looseObject({ type: z.literal("file"), file: z.looseObject({}) }),
  z.looseObject({ type: z.literal("refusal"), refusal: z.string() }),
]);
const content = z.union([z.string(), z.array(contentPart)]);

const message = z.discriminatedUnion("role", [
  z.looseObject({ role: z.enum(["system", "developer", "user"]), content }),
  z.looseObject({ role: z.literal("assistant"), content: content.nullish() }),
  z.looseObject({ role: z.literal("tool"), content, tool_call_id: z.string() }),
  z.looseObject({ role: z.literal("function"), content: z.string().nullable(), name: z.string() }),
]);

const chatCompletionRequestSchema = z
  .looseObject({
    model: z.string(),
    messages: z.array(message).min(1),
    stream: z.boolean().nullish(),
    stream_options: z
      .looseObject({
        include_usage: z.boolean().optional(),
        include_obfuscation: z.boolean().optional(),
      })
      .nullish(),
    max_tokens: z.int().min(1).nullish(),
    max_completion_tokens: z.int().min(1).nullish(),
    // Only one choice is simulated; refusing n > 1 beats silently answering fewer.
    n: z.literal(1, { error: "The simulator answers one choice; n must be 1." }).nullish(),
    service_tier: z.enum(["auto", "default", "flex", "priority", "scale"]).nullish(),
  })
  .check((context) => {
    if (context.value.stream_options && !context.value.stream) {
      context.issues.push({
        code: "custom",
        path: ["stream_options"],
        message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        input: context.value.stream_options,
      });
    }
  });

type ValidChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/**
 * What of an OpenAI chat request decides its usage. The openai client's
 * `ChatCompletionCreateParams` fits, and so does every body the simulator accepts.
 */
export interface ChatCompletionRequest {
  model: string;
  messages: ReadonlyArray<{
    role: string;
    content?: string | ReadonlyArray<{ type: string; text?: string }> | null;
  }>;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  tools?: ReadonlyArray<{
    type: string;
    function?: { name: string; parameters?: Record<string, unknown> };
  }> | null;
  tool_choice?: string | { type: string; function?: { name: string } } | null;
}

/** The neutral request behind an OpenAI chat request. */
export function fromChatCompletionRequest(request: ChatCompletionRequest): SimulatedRequest {
  const tools = (request.tools ?? []).flatMap((tool) =>
    tool.function ? [{ name: tool.function.name, parameters: tool.function.parameters ?? {} }] : [],
  );
  const choice = request.tool_choice;
  return {
    model: request.model,
    messageTexts: request.messages.map((each) => textOf(each.content)),
    maxOutputTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    tools,
    toolChoice:
      typeof choice === "object" && choice?.function
        ? { name: choice.function.name }
        : choice === "none" || choice === "required"
          ? choice
          : "auto",
    endsWithToolResult: request.messages.at(-1)?.role === "tool",
  };
}

// Only text counts: an image or audio part costs the simulated model nothing.
function textOf(messageContent: ChatCompletionRequest["messages"][number]["content"]): string {
  if (typeof messageContent === "string") return messageContent;
  if (!messageContent) return "";
  let text = "";
  for (const part of messageContent) if (part.type === "text" && part.text) text += part.text;
  return text;
}

// ── Responses ───────────────────────────────────────────────────────────────────────────────

// Ids unique across processes without a random draw per request: a random tag per process,
// then a counter. Shaped like OpenAI's: `chatcmpl-` and 29 letters or digits, `req_` and 32
// hexadecimal digits.
const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function randomAlphanumeric(length: number): string {
  return Array.from(randomBytes(length), (byte) => ALPHANUMERIC[byte % 62]).join("");
}
const COMPLETION_ID_TAG = randomAlphanumeric(21);
const REQUEST_ID_TAG = randomBytes(8).toString("hex");
let responseCounter = 0;

function nextCompletionId(): string {
  responseCounter += 1;
  return `chatcmpl-${COMPLETION_ID_TAG}${responseCounter.toString(36).padStart(8, "0")}`;
}

function nextRequestId(): string {
  responseCounter += 1;
  return `req_${REQUEST_ID_TAG}${responseCounter.toString(16).padStart(16, "0")}`;
}

const JSON_CONTENT_TYPE = "application/json";
const SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8";
// The simulator's stand-in for the organization named in OpenAI's rate-limit messages.
const ORGANIZATION = "org-switchboard-simulator";
// Models "created" at a fixed moment, so listings compare equal across runs.
const MODELS_CREATED = 1_700_000_000;

function json(status: number, value: unknown, headers: Record<string, string> = {}): WireResponse {
  return {
    status,
    headers: {
      "content-type": JSON_CONTENT_TYPE,
      "x-request-id": nextRequestId(),
      ...headers,
    },
    body: JSON.stringify(value),
  };
}

function openAIError(
  status: number,
  error: { message: string; type: string; param: string | null; code: string | null },
  headers?: Record<string, string>,
): WireResponse {
  return json(status, { error }, headers);
}

// Response bodies are written as templates around JSON.stringify of the parts that vary:
// they are the simulator's whole per-request cost, and a benchmark's upstream must be cheap.
// The tests hold them to OpenAI's schema.

function usageJson(usage: SimulatedUsage): string {
  return (
    `{"prompt_tokens":${usage.promptTokens},"completion_tokens":${usage.completionTokens},` +
    `"total_tokens":${usage.promptTokens + usage.completionTokens},` +
    `"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
    `"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,` +
    `"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}`
  );
}

const fingerprintByModel = new Map<string, string>();
// Stable per model, as OpenAI's is per backend configuration.
function systemFingerprintOf(model: string): string {
  let fingerprint = fingerprintByModel.get(model);
  if (fingerprint === undefined) {
    fingerprint = `fp_${hashText(model).toString(16).padStart(10, "0")}`;
    fingerprintByModel.set(model, fingerprint);
  }
  return fingerprint;
}

/**
 * The tier OpenAI says served a request: flex and priority as asked (the
 * simulator always has the capacity), `default` for auto, default and
 * scale (an organisation without Scale Tier units), or when none was asked.
 */
function servedTierOf(request: ValidChatCompletionRequest): string {
  const asked = request.service_tier;
  return asked === "flex" || asked === "priority" ? asked : "default";
}

function toChatCompletion(
  request: ValidChatCompletionRequest,
  answer: SimulatedAnswer,
): WireResponse {
  return {
    status: 200,
    headers: { "content-type": JSON_CONTENT_TYPE, "x-request-id": nextRequestId() },
    body:
      `{"id":"${nextCompletionId()}","object":"chat.completion",` +
      `"created":${Math.floor(Date.now() / 1000)},"model":${JSON.stringify(request.model)},` +
      `"choices":[{"index":0,"message":{"role":"assistant",${messageContent(answer)},` +
      `"refusal":null,"annotations":[]},` +
      `"logprobs":null,"finish_reason":"${answer.finishReason}"}],` +
      `"usage":${usageJson(answer.usage)},"service_tier":"${servedTierOf(request)}",` +
      `"system_fingerprint":"${systemFingerprintOf(request.model)}"}`,
  };
}

function messageContent(answer: SimulatedAnswer): string {
  if (!answer.toolCall) return `"content":${JSON.stringify(answer.tokens.join(""))}`;
  const call = {
    id: answer.toolCall.id,
    type: "function",
    function: { name: answer.toolCall.name, arguments: answer.tokens.join("") },
  };
  return `"content":null,"tool_calls":[${JSON.stringify(call)}]`;
}

// OpenAI pads every chunk with an `obfuscation` string (so chunk sizes do not reveal token
// lengths) unless the client sets `stream_options.include_obfuscation: false`. Its content is
// opaque; a slice of one random string, shorter for longer tokens, keeps it cheap.
const OBFUSCATION_PADDING = randomAlphanumeric(16);
const OBFUSCATION_TARGET_LENGTH = 16;

/** The chunk stream: each frame is a prefix shared by every chunk, a choice, and an ending. */
class ChunkStream implements WireStream {
  readonly headers = { "content-type": SSE_CONTENT_TYPE, "x-request-id": nextRequestId() };
  private readonly prefix: string;
  // With include_usage, OpenAI sends `"usage":null` on every chunk but the last.
  private readonly usageField: string;
  private readonly includeUsage: boolean;
  private readonly includeObfuscation: boolean;

  constructor(
    request: ValidChatCompletionRequest,
    private readonly answer: SimulatedAnswer,
  ) {
    this.includeUsage = request.stream_options?.include_usage === true;
    this.includeObfuscation = request.stream_options?.include_obfuscation !== false;
    this.usageField = this.includeUsage ? ',"usage":null' : "";
    this.prefix =
      `data: {"id":"${nextCompletionId()}","object":"chat.completion.chunk",` +
      `"created":${Math.floor(Date.now() / 1000)},"model":${JSON.stringify(request.model)},` +
      `"service_tier":"${servedTierOf(request)}","system_fingerprint":"${systemFingerprintOf(request.model)}",`;
  }

  opening(): string {
    const call = this.answer.toolCall;
    if (!call) return this.frame('{"role":"assistant","content":"","refusal":null}', "null", "");
    const start = [
      { index: 0, id: call.id, type: "function", function: { name: call.name, arguments: "" } },
    ];
    return this.frame(
      `{"role":"assistant","content":null,"tool_calls":${JSON.stringify(start)},"refusal":null}`,
      "null",
      "",
    );
  }

  token(text: string): string {
    if (this.answer.toolCall) {
      return this.frame(
        `{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(text)}}}]}`,
        "null",
        text,
      );
    }
    return this.frame(`{"content":${JSON.stringify(text)}}`, "null", text);
  }

  closing(): string {
    let frames = this.frame("{}", `"${this.answer.finishReason}"`, "");
    if (this.includeUsage) {
      frames += `${this.prefix}"choices":[],"usage":${usageJson(this.answer.usage)}${this.ending("")}`;
    }
    return `${frames}data: [DONE]\n\n`;
  }

  private frame(delta: string, finishReason: string, text: string): string {
    return (
      `${this.prefix}"choices":[{"index":0,"delta":${delta},"logprobs":null,` +
      `"finish_reason":${finishReason}}]${this.usageField}${this.ending(text)}`
    );
  }

  private ending(text: string): string {
    if (!this.includeObfuscation) return "}\n\n";
    const padding = Math.max(OBFUSCATION_TARGET_LENGTH - text.length, 1);
    return `,"obfuscation":"${OBFUSCATION_PADDING.slice(0, padding)}"}\n\n`;
  }
}

/** An accepted request, and how its answer is written. */
class ChatCompletionCall implements CompletionCall {
  readonly request: SimulatedRequest;
  readonly stream: boolean;

  constructor(private readonly body: ValidChatCompletionRequest) {
    this.request = fromChatCompletionRequest(body);
    this.stream = body.stream === true;
  }

  respond(answer: SimulatedAnswer): WireResponse {
    return toChatCompletion(this.body, answer);
  }

  streamed(answer: SimulatedAnswer): WireStream {
    return new ChunkStream(this.body, answer);
  }
}

// ── Rejections: OpenAI's messages, types and codes ────────────────────────────────────────

const MISSING_API_KEY =
  "You didn't provide an API key. You need to provide your API key in an Authorization header " +
  "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with " +
  "blank username) if you're accessing the API from your browser and are prompted for a " +
  "username. You can obtain an API key from https://platform.openai.com/account/api-keys.";

const UNPARSABLE_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using " +
  "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was " +
  "not valid JSON. If you have trouble figuring out how to fix this, please contact us through " +
  "our help center at help.openai.com.)";

function invalidRequest(message: string, param: string | null, code: string | null): WireResponse {
  return openAIError(400, { message, type: "invalid_request_error", param, code });
}

type ZodIssue = z.core.$ZodIssue;

/** OpenAI's wording for the first thing wrong with a body, naming the field. */
function rejectionOf(issue: ZodIssue, outerPath: readonly PropertyKey[] = []): WireResponse {
  const path = [...outerPath, ...issue.path];
  const param = path.length === 0 ? null : paramOf(path);
  const input: unknown = issue.input;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined && issue.expected !== "undefined" && param !== null) {
        return invalidRequest(
          `Missing required parameter: '${param}'.`,
          param,
          "missing_required_parameter",
        );
      }
      return invalidRequest(
        `Invalid type for '${param ?? "body"}': expected ${describeType(issue.expected)}, but got ${describeValue(input)} instead.`,
        param,
        "invalid_type",
      );
    case "too_small":
      if (issue.origin === "array") {
        return invalidRequest(
          `Invalid '${param}': empty array. Expected an array with minimum length ${issue.minimum}, but got an empty array instead.`,
          param,
          "empty_array",
        );
      }
      return invalidRequest(
        `Invalid '${param}': integer below minimum value. Expected a value >= ${issue.minimum}, but got ${String(input)} instead.`,
        param,
        "integer_below_min_value",
      );
    case "invalid_union": {
      if ("discriminator" in issue && issue.discriminator && "options" in issue) {
        const value = (input as Record<string, unknown> | undefined)?.[issue.discriminator];
        const options = (issue.options as unknown[]).map((option) => `'${String(option)}'`);
        return invalidRequest(
          `Invalid value: '${String(value)}'. Supported values are: ${options.join(", ")}.`,
          param,
          "invalid_value",
        );
      }
      // A value that is neither of its forms: blame the form it came closest to, that is
      // the branch whose first complaint lies deepest inside the value.
      const deepest = issue.errors
        .map((branch) => branch[0])
        .filter((first): first is ZodIssue => first !== undefined)
        .sort((left, right) => right.path.length - left.path.length)[0];
      if (deepest && deepest.path.length > 0) return rejectionOf(deepest, path);
      const expected = issue.errors
        .map((branch) => branch[0])
        .map((first) => (first?.code === "invalid_type" ? describeType(first.expected) : "?"));
      if (input === undefined && param !== null) {
        return invalidRequest(
          `Missing required parameter: '${param}'.`,
          param,
          "missing_required_parameter",
        );
      }
      return invalidRequest(
        `Invalid type for '${param}': expected one of ${expected.join(" or ")}, but got ${describeValue(input)} instead.`,
        param,
        "invalid_type",
      );
    }
    case "invalid_value":
      return invalidRequest(
        issue.message.startsWith("Invalid input")
          ? `Invalid value for '${param}': ${issue.message}.`
          : issue.message,
        param,
        "invalid_value",
      );
    default:
      return invalidRequest(issue.message, param, null);
  }
}

// `messages[0].content`, as OpenAI names nested parameters.
function paramOf(path: readonly PropertyKey[]): string {
  let param = "";
  for (const key of path) {
    if (typeof key === "number") param += `[${key}]`;
    else param += param === "" ? String(key) : `.${String(key)}`;
  }
  return param;
}

function describeType(expected: string): string {
  switch (expected) {
    case "int":
      return "an integer";
    case "array":
      return "an array of objects";
    case "object":
      return "an object";
    default:
      return `a ${expected}`;
  }
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a decimal";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

// ── The protocol ──────────────────────────────────────────────────────────────────────────

/**
 * A chat request's body read, or OpenAI's rejection of it. Azure OpenAI names the model in
 * its URL (the deployment), which then stands in for the body's `model`.
 */
export function readChatCompletion(body: string, deployment?: string): ReadCompletion {
  let parsedBody: unknown;
  try {
    parsedBody = JSON.parse(body);
  } catch {
    return { accepted: false, rejection: invalidRequest(UNPARSABLE_JSON, null, null) };
  }
  if (deployment !== undefined && typeof parsedBody === "object" && parsedBody !== null) {
    parsedBody = { ...parsedBody, model: deployment };
  }
  const result = chatCompletionRequestSchema.safeParse(parsedBody);
  if (result.success) return { accepted: true, call: new ChatCompletionCall(result.data) };
  // Parse again to learn the offending values: reporting them on every parse costs the
  // valid requests several times the validation itself.
  const detailed = chatCompletionRequestSchema.safeParse(parsedBody, { reportInput: true });
  const issue = (detailed.error ?? result.error).issues[0] as ZodIssue;
  return { accepted: false, rejection: rejectionOf(issue) };
}

const embeddingsRequestSchema = z.looseObject({
  model: z.string(),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  dimensions: z.int().min(1).max(3072).optional(),
  encoding_format: z.enum(["float", "base64"]).optional(),
});

/** An embeddings request read, or OpenAI's rejection of it (token-array input is not simulated). */
export function readEmbeddingsRequest(body: string, deployment?: string): ReadEmbeddings {
  let parsedBody: unknown;
  try {
    parsedBody = JSON.parse(body);
  } catch {
    return { accepted: false, rejection: invalidRequest(UNPARSABLE_JSON, null, null) };
  }
  if (deployment !== undefined && typeof parsedBody === "object" && parsedBody !== null) {
    parsedBody = { ...parsedBody, model: deployment };
  }
  const result = embeddingsRequestSchema.safeParse(parsedBody, { reportInput: true });
  if (!result.success)
    return { accepted: false, rejection: rejectionOf(result.error.issues[0] as ZodIssue) };
  const request = result.data;
  const texts = typeof request.input === "string" ? [request.input] : request.input;
  return {
    accepted: true,
    call: {
      model: request.model,
      texts,
      dimensions: request.dimensions,
      respond(vectors, promptTokens) {
        return json(200, {
          object: "list",
          data: vectors.map((vector, index) => ({
            object: "embedding",
            index,
            embedding:
              request.encoding_format === "base64"
                ? Buffer.from(new Float32Array(vector).buffer).toString("base64")
                : vector,
          })),
          model: request.model,
          usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
        });
      },
    },
  };
}

export function rejectWithoutBearer(headers: IncomingHttpHeaders): WireResponse | undefined {
  const authorization = headers.authorization;
  if (authorization?.startsWith("Bearer ") && authorization.slice(7).trim() !== "") {
    return undefined;
  }
  return openAIError(401, {
    message: MISSING_API_KEY,
    type: "invalid_request_error",
    param: null,
    code: null,
  });
}

export const openAIChat: WireProtocol = {
  endpointOf(method: string, pathname: string): Endpoint | undefined {
    if (method === "POST" && pathname === "/v1/chat/completions") return "completion";
    if (method === "POST" && pathname === "/v1/embeddings") return "embeddings";
    if (method === "GET" && pathname === "/v1/models") return "models";
    return undefined;
  },

  rejectUnauthenticated: rejectWithoutBearer,

  readCompletion(body: string) {
    return readChatCompletion(body);
  },

  readEmbeddings(body: string) {
    return readEmbeddingsRequest(body);
  },

  models(models: readonly SimulatedModel[]) {
    return json(200, {
      object: "list",
      data: models.map((model) => ({
        id: model.id,
        object: "model",
        created: MODELS_CREATED,
        owned_by: "switchboard-simulator",
      })),
    });
  },

  unknownModel(modelId: string) {
    return openAIError(404, {
      message: `The model \`${modelId}\` does not exist or you do not have access to it.`,
      type: "invalid_request_error",
      param: null,
      code: "model_not_found",
    });
  },

  unknownEndpoint(method: string, pathname: string) {
    return openAIError(404, {
      message: `Invalid URL (${method} ${pathname})`,
      type: "invalid_request_error",
      param: null,
      code: null,
    });
  },

  rateLimited(modelId: string, retryAfterSeconds: number) {
    return openAIError(
      429,
      {
        message:
          `Rate limit reached for ${modelId} in organization ${ORGANIZATION} on requests per min ` +
          `(RPM): Limit 60, Used 60, Requested 1. Please try again in ${retryAfterSeconds}s. ` +
          "Visit https://platform.openai.com/account/rate-limits to learn more.",
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      },
      { "retry-after": String(retryAfterSeconds) },
    );
  },

  serverError() {
    return openAIError(500, {
      message: "The server had an error while processing your request. Sorry about that!",
      type: "server_error",
      param: null,
      code: null,
    });
  },

  overloaded() {
    return openAIError(503, {
      message: "The engine is currently overloaded, please try again later.",
      type: "server_error",
      param: null,
      code: null,
    });
  },

  streamErrorFrame() {
    return `data: ${JSON.stringify({
      error: {
        message: "The server had an error while processing your request. Sorry about that!",
        type: "server_error",
        param: null,
        code: null,
      },
    })}\n\n`;
  },
};
