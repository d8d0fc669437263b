// A fake vendor on loopback speaking OpenAI's chat completions and embeddings,
// Anthropic's Messages and Gemini's generateContent, each whole and streamed,
// that answers each attempt as the case's VendorPlan says (vendor-replies.ts):
// usage counters of every kind, streams cut, reordered, duplicated or broken,
// errors of every status, connections torn down. It remembers what it served,
// so a property can say what the ledger should hold.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ANSWER_MARKER, VENDOR_ERROR_MARKER } from "./markers.ts";
import type {
  AnswerReply,
  Counter,
  ErrorReply,
  FinishSpec,
  UsageSpec,
  VendorPlan,
  VendorProtocol,
  VendorReply,
} from "./vendor-replies.ts";

/** Each protocol's usage fields, by the positions UsageSpec gives counters (null: not sent). */
const COUNTER_NAMES: Record<VendorProtocol, (string | null)[]> = {
  openai: [
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details.cached_tokens",
    "completion_tokens_details.reasoning_tokens",
    "total_tokens",
    null,
  ],
  anthropic: [
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    null,
    null,
  ],
  gemini: [
    "promptTokenCount",
    "candidatesTokenCount",
    "cachedContentTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
    "totalTokenCount",
  ],
  embeddings: ["prompt_tokens", null, null, null, "total_tokens", null],
};

/** Each protocol's finish reasons as its vendors word them. */
export const FINISH_REASONS: Record<VendorProtocol, string[]> = {
  openai: ["stop", "length", "tool_calls", "content_filter", "function_call"],
  anthropic: ["end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"],
  gemini: [
    "STOP",
    "MAX_TOKENS",
    "SAFETY",
    "RECITATION",
    "OTHER",
    "MALFORMED_FUNCTION_CALL",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "FINISH_REASON_UNSPECIFIED",
  ],
  embeddings: [],
};

/** What the fake vendor did with one attempt. */
export interface ServedAttempt {
  protocol: VendorProtocol;
  streamed: boolean;
  reply: VendorReply;
}

/** A JSON number written as the vendor wrote it, not as JSON.stringify would. */
class RawNumber {
  constructor(readonly text: string) {}
}

/** JSON text in which RawNumbers appear verbatim (1e400, 9007199254740993, -0). */
export function jsonWithRawNumbers(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, each) => {
    if (each instanceof RawNumber) {
      raws.push(each.text);
      return `@@raw${raws.length - 1}@@`;
    }
    return each;
  });
  return text.replace(/"@@raw(\d+)@@"/g, (_match, index) => raws[Number(index)] as string);
}

function counterValue(counter: Counter): unknown {
  switch (counter.kind) {
    case "null":
      return null;
    case "count":
      return counter.value;
    case "raw":
      return new RawNumber(counter.text);
    case "string":
      return counter.text;
    default:
      return (counter as { value?: unknown }).value;
  }
}

/** The usage value as `protocol` writes it; undefined when it is left out. */
function usageValue(protocol: VendorProtocol, usage: UsageSpec): unknown {
  if (usage.shape === "absent") return undefined;
  if (usage.shape === "null") return null;
  if (usage.shape === "not-object") return usage.notObject;
  const object: Record<string, unknown> = {};
  COUNTER_NAMES[protocol].forEach((name, position) => {
    const counter = usage.counters[position];
    if (name === null || !counter || counter.kind === "absent") return;
    const [outer, inner] = name.split(".") as [string, string | undefined];
    if (inner === undefined) object[outer] = counterValue(counter);
    else {
      if (object[outer] === undefined) object[outer] = {};
      (object[outer] as Record<string, unknown>)[inner] = counterValue(counter);
    }
  });
  return object;
}

function withUsage(target: Record<string, unknown>, field: string, value: unknown) {
  if (value !== undefined) target[field] = value;
  return target;
}

/** The finish reason a reply carries in `protocol`'s words; undefined when left out. */
export function finishValue(
  protocol: VendorProtocol,
  finish: FinishSpec,
): string | null | undefined {
  switch (finish.kind) {
    case "absent":
      return undefined;
    case "null":
      return null;
    case "known": {
      const reasons = FINISH_REASONS[protocol];
      return reasons[finish.index % reasons.length];
    }
    default:
      return finish.text;
  }
}

/** The text, cut into `pieces` deltas (at least one, possibly empty). */
function piecesOf(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const result: string[] = [];
  for (let start = 0; start < text.length; start += size)
    result.push(text.slice(start, start + size));
  return result.length > 0 ? result : [""];
}

interface Context {
  model: string;
  /** The key the gateway sent, as a vendor echoing it would quote it. */
  key: string;
}

function answerText(reply: AnswerReply, context: Context): string | null {
  if (!reply.echoKey) return reply.text;
  return `${reply.text ?? ""} (called with ${context.key})`;
}

function objectArguments(text: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed;
  } catch {
    // Not an object: carried as a string field below.
  }
  return { raw: text };
}

const sse = (data: unknown, event?: string) =>
  `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : jsonWithRawNumbers(data)}\n\n`;

// ── OpenAI ───────────────────────────────────────────────────────────────────────────────

function openAIWhole(reply: AnswerReply, context: Context): unknown {
  const message: Record<string, unknown> = {
    role: "assistant",
    content: answerText(reply, context),
  };
  if (reply.reasoning !== null) message.reasoning_content = reply.reasoning;
  if (reply.toolCalls.length > 0) {
    message.tool_calls = reply.toolCalls.map((call, index) => ({
      id: `call_${index}`,
      type: "function",
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  const choice: Record<string, unknown> = { index: 0, message, logprobs: null };
  const finish = finishValue("openai", reply.finish);
  if (finish !== undefined) choice.finish_reason = finish;
  return withUsage(
    {
      id: "chatcmpl-fuzz",
      object: "chat.completion",
      created: 1_700_000_000,
      model: reply.model ?? context.model,
      choices: [choice],
    },
    "usage",
    usageValue("openai", reply.usage),
  );
}

function openAIFrames(reply: AnswerReply, context: Context): string[] {
  const head = {
    id: "chatcmpl-fuzz",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: reply.model ?? context.model,
  };
  const chunk = (delta: unknown, extra: Record<string, unknown> = {}) =>
    sse({ ...head, choices: [{ index: 0, delta, ...extra }] });
  const frames = [chunk({ role: "assistant", content: "" }, { finish_reason: null })];
  const pieces = reply.stream.pieces;
  if (reply.reasoning !== null) {
    for (const piece of piecesOf(reply.reasoning, pieces))
      frames.push(chunk({ reasoning_content: piece }));
  }
  const text = answerText(reply, context);
  if (text !== null) {
    for (const piece of piecesOf(text, pieces)) frames.push(chunk({ content: piece }));
  }
  reply.toolCalls.forEach((call, index) => {
    frames.push(
      chunk({
        tool_calls: [
          {
            index,
            id: `call_${index}`,
            type: "function",
            function: { name: call.name, arguments: "" },
          },
        ],
      }),
    );
    for (const piece of piecesOf(call.arguments, pieces)) {
      frames.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });
  const finish = finishValue("openai", reply.finish);
  frames.push(chunk({}, finish === undefined ? {} : { finish_reason: finish }));
  const usage = usageValue("openai", reply.usage);
  if (usage !== undefined) frames.push(sse({ ...head, choices: [], usage }));
  frames.push(sse("[DONE]"));
  return frames;
}

function openAIErrorBody(message: string, status: number): unknown {
  return {
    error: {
      message,
      type: status >= 500 ? "server_error" : "invalid_request_error",
      param: null,
      code: null,
    },
  };
}

// ── Anthropic ────────────────────────────────────────────────────────────────────────────

function anthropicBlocks(reply: AnswerReply, context: Context): Record<string, unknown>[] {
  const blocks: Record<string, unknown>[] = [];
  if (reply.reasoning !== null) {
    blocks.push({ type: "thinking", thinking: reply.reasoning, signature: "c2ln" });
  }
  const text = answerText(reply, context);
  if (text !== null) blocks.push({ type: "text", text });
  reply.toolCalls.forEach((call, index) => {
    blocks.push({
      type: "tool_use",
      id: `toolu_${index}`,
      name: call.name,
      input: objectArguments(call.arguments),
    });
  });
  return blocks;
}

function anthropicWhole(reply: AnswerReply, context: Context): unknown {
  const message: Record<string, unknown> = {
    id: "msg_fuzz",
    type: "message",
    role: "assistant",
    model: reply.model ?? context.model,
    content: anthropicBlocks(reply, context),
    stop_sequence: null,
  };
  const finish = finishValue("anthropic", reply.finish);
  if (finish !== undefined) message.stop_reason = finish;
  return withUsage(message, "usage", usageValue("anthropic", reply.usage));
}

function anthropicFrames(reply: AnswerReply, context: Context): string[] {
  const start: Record<string, unknown> = {
    id: "msg_fuzz",
    type: "message",
    role: "assistant",
    model: reply.model ?? context.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
  };
  withUsage(start, "usage", usageValue("anthropic", reply.usage));
  const frames = [
    sse({ type: "message_start", message: start }, "message_start"),
    sse({ type: "ping" }, "ping"),
  ];
  const pieces = reply.stream.pieces;
  anthropicBlocks(reply, context).forEach((block, index) => {
    const emptied =
      block.type === "thinking"
        ? { type: "thinking", thinking: "", signature: "" }
        : block.type === "text"
          ? { type: "text", text: "" }
          : { ...block, input: {} };
    frames.push(
      sse({ type: "content_block_start", index, content_block: emptied }, "content_block_start"),
    );
    const deltas =
      block.type === "thinking"
        ? piecesOf(block.thinking as string, pieces).map((thinking) => ({
            type: "thinking_delta",
            thinking,
          }))
        : block.type === "text"
          ? piecesOf(block.text as string, pieces).map((text) => ({ type: "text_delta", text }))
          : piecesOf(JSON.stringify(block.input), pieces).map((partial_json) => ({
              type: "input_json_delta",
              partial_json,
            }));
    for (const delta of deltas) {
      frames.push(sse({ type: "content_block_delta", index, delta }, "content_block_delta"));
    }
    frames.push(sse({ type: "content_block_stop", index }, "content_block_stop"));
  });
  const finish = finishValue("anthropic", reply.finish);
  const delta: Record<string, unknown> = { stop_sequence: null };
  if (finish !== undefined) delta.stop_reason = finish;
  frames.push(
    sse(
      withUsage(
        { type: "message_delta", delta },
        "usage",
        usageValue("anthropic", reply.deltaUsage),
      ),
      "message_delta",
    ),
  );
  frames.push(sse({ type: "message_stop" }, "message_stop"));
  return frames;
}

function anthropicErrorBody(message: string, status: number): unknown {
  const type =
    status === 429
      ? "rate_limit_error"
      : status === 529
        ? "overloaded_error"
        : status >= 500
          ? "api_error"
          : status === 401
            ? "authentication_error"
            : "invalid_request_error";
  return { type: "error", error: { type, message } };
}

// ── Gemini ───────────────────────────────────────────────────────────────────────────────

function geminiParts(reply: AnswerReply, context: Context): Record<string, unknown>[] {
  const parts: Record<string, unknown>[] = [];
  if (reply.reasoning !== null) parts.push({ text: reply.reasoning, thought: true });
  const text = answerText(reply, context);
  if (text !== null) parts.push({ text });
  for (const call of reply.toolCalls) {
    parts.push({ functionCall: { name: call.name, args: objectArguments(call.arguments) } });
  }
  return parts;
}

function geminiChunk(
  reply: AnswerReply,
  context: Context,
  parts: Record<string, unknown>[],
  last: boolean,
): Record<string, unknown> {
  const candidate: Record<string, unknown> = { content: { role: "model", parts }, index: 0 };
  if (last) {
    const finish = finishValue("gemini", reply.finish);
    if (finish !== undefined) candidate.finishReason = finish;
  }
  const chunk: Record<string, unknown> = {
    candidates: [candidate],
    modelVersion: reply.model ?? context.model,
    responseId: "fuzz-response",
  };
  return last ? withUsage(chunk, "usageMetadata", usageValue("gemini", reply.usage)) : chunk;
}

function geminiFrames(reply: AnswerReply, context: Context): string[] {
  const frames: string[] = [];
  const pieces = reply.stream.pieces;
  for (const part of geminiParts(reply, context)) {
    if (typeof part.text === "string") {
      for (const piece of piecesOf(part.text, pieces)) {
        frames.push(sse(geminiChunk(reply, context, [{ ...part, text: piece }], false)));
      }
    } else frames.push(sse(geminiChunk(reply, context, [part], false)));
  }
  frames.push(sse(geminiChunk(reply, context, [{ text: "" }], true)));
  return frames;
}

function geminiErrorBody(message: string, status: number): unknown {
  return {
    error: { code: status, message, status: status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT" },
  };
}

// ── Embeddings ───────────────────────────────────────────────────────────────────────────

function embeddingsWhole(reply: AnswerReply, context: Context): unknown {
  return withUsage(
    {
      object: "list",
      data: [
        { object: "embedding", index: 0, embedding: [0.0023064255, -0.009327292, 0.015797347] },
      ],
      model: reply.model ?? context.model,
    },
    "usage",
    usageValue("embeddings", reply.usage),
  );
}

// ── The server ───────────────────────────────────────────────────────────────────────────

const WHOLE: Record<VendorProtocol, (reply: AnswerReply, context: Context) => unknown> = {
  openai: openAIWhole,
  anthropic: anthropicWhole,
  gemini: (reply, context) => geminiChunk(reply, context, geminiParts(reply, context), true),
  embeddings: embeddingsWhole,
};

const FRAMES: Record<VendorProtocol, (reply: AnswerReply, context: Context) => string[]> = {
  openai: openAIFrames,
  anthropic: anthropicFrames,
  gemini: geminiFrames,
  embeddings: (reply, context) => [sse(embeddingsWhole(reply, context))],
};

const ERROR_BODY: Record<VendorProtocol, (message: string, status: number) => unknown> = {
  openai: openAIErrorBody,
  anthropic: anthropicErrorBody,
  gemini: geminiErrorBody,
  embeddings: openAIErrorBody,
};

const ERROR_FRAME: Record<VendorProtocol, (message: string) => string> = {
  openai: (message) => sse(openAIErrorBody(message, 500)),
  anthropic: (message) => sse(anthropicErrorBody(message, 529), "error"),
  gemini: (message) => sse(geminiErrorBody(message, 500)),
  embeddings: (message) => sse(openAIErrorBody(message, 500)),
};

function protocolOf(method: string, path: string): VendorProtocol | null {
  if (method !== "POST") return null;
  if (path === "/openai/v1/chat/completions") return "openai";
  if (path === "/openai/v1/embeddings") return "embeddings";
  if (path === "/anthropic/v1/messages") return "anthropic";
  if (/^\/gemini\/v1beta\/models\/[^/]+:(generateContent|streamGenerateContent)$/.test(path))
    return "gemini";
  return null;
}

function errorMessage(reply: ErrorReply, context: Context): string {
  const key = reply.echoKey ? ` Incorrect API key provided: ${context.key}.` : "";
  return `${VENDOR_ERROR_MARKER} the vendor could not serve this request.${key}`;
}

export class FakeVendor {
  private plan: VendorPlan = { replies: [] };
  private served: ServedAttempt[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeVendor> {
    let vendor: FakeVendor | undefined;
    const server = createServer((request, response) => {
      vendor?.handle(request, response).catch(() => response.destroy());
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    vendor = new FakeVendor(server, `http://127.0.0.1:${port}`);
    return vendor;
  }

  /** The base URL a vendor of `protocol` is configured with. */
  baseUrl(protocol: "openai" | "anthropic" | "gemini"): string {
    return `${this.url}/${protocol}/${protocol === "gemini" ? "v1beta" : "v1"}`;
  }

  /** The replies for the next case's attempts, in order. */
  expect(plan: VendorPlan): void {
    this.plan = plan;
    this.served = [];
  }

  /** What each attempt of the current case was answered with. */
  attempts(): readonly ServedAttempt[] {
    return this.served;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = request.url ?? "/";
    const path = url.split("?")[0] as string;
    const protocol = protocolOf(request.method ?? "GET", path);
    if (protocol === null) {
      response.writeHead(404, { "content-type": "application/json" }).end('{"error":"no route"}');
      return;
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const streamed =
      protocol === "gemini" ? path.endsWith(":streamGenerateContent") : streamFlagOf(body);
    const replies = this.plan.replies;
    const reply = replies[Math.min(this.served.length, replies.length - 1)] ?? {
      kind: "error",
      status: 500,
      body: "text",
      retryAfter: null,
      echoKey: false,
    };
    this.served.push({ protocol, streamed, reply });
    const context: Context = {
      model: modelOf(body, path),
      key: String(
        request.headers.authorization ??
          request.headers["x-api-key"] ??
          request.headers["x-goog-api-key"] ??
          "",
      ),
    };
    if (reply.kind === "reset") {
      request.socket.destroy();
      return;
    }
    if (reply.kind === "error") {
      sendError(response, protocol, reply, context);
      return;
    }
    await sendAnswer(response, protocol, streamed, reply, context);
  }
}

function streamFlagOf(body: string): boolean {
  try {
    return (JSON.parse(body) as { stream?: unknown }).stream === true;
  } catch {
    return false;
  }
}

function modelOf(body: string, path: string): string {
  const fromPath = /models\/([^/:]+):/.exec(path)?.[1];
  if (fromPath) return decodeURIComponent(fromPath);
  try {
    const model = (JSON.parse(body) as { model?: unknown }).model;
    return typeof model === "string" ? model : "unknown";
  } catch {
    return "unknown";
  }
}

function sendError(
  response: ServerResponse,
  protocol: VendorProtocol,
  reply: ErrorReply,
  context: Context,
): void {
  const headers: Record<string, string> = {};
  if (reply.retryAfter !== null) headers["retry-after"] = reply.retryAfter;
  const message = errorMessage(reply, context);
  let text = "";
  switch (reply.body) {
    case "vendor":
      headers["content-type"] = "application/json";
      text = JSON.stringify(ERROR_BODY[protocol](message, reply.status));
      break;
    case "text":
      headers["content-type"] = "text/plain";
      text = message;
      break;
    case "html":
      headers["content-type"] = "text/html";
      text = `<html><body><h1>${reply.status}</h1>${message}</body></html>`;
      break;
  }
  response.writeHead(reply.status, headers);
  response.end(reply.status === 204 ? undefined : text);
}

async function sendAnswer(
  response: ServerResponse,
  protocol: VendorProtocol,
  streamed: boolean,
  reply: AnswerReply,
  context: Context,
): Promise<void> {
  // other-mode: a stream asked for and a whole answer sent, or the reverse.
  const asStream = reply.body === "other-mode" ? !streamed : streamed;
  if (!asStream) {
    let text = jsonWithRawNumbers(WHOLE[protocol](reply, context));
    if (reply.body === "not-json") text = `${ANSWER_MARKER} <html>upstream oops</html>`;
    else if (reply.body === "cut-json") text = text.slice(0, Math.floor(text.length * reply.cutAt));
    else if (reply.body === "wrong-shape")
      text = `{"choices":"${ANSWER_MARKER}","content":5,"candidates":{}}`;
    else if (reply.body === "empty") text = "";
    response.writeHead(200, { "content-type": "application/json" });
    response.end(text);
    return;
  }
  const frames = FRAMES[protocol](reply, context);
  const stream = reply.stream;
  for (const mutation of stream.mutations) {
    const count = frames.length;
    if (count === 0) break;
    const at = mutation.at % count;
    const other = mutation.other % count;
    if (mutation.op === "duplicate") frames.splice(at, 0, frames[at] as string);
    else if (mutation.op === "drop") frames.splice(at, 1);
    else [frames[at], frames[other]] = [frames[other] as string, frames[at] as string];
  }
  if (stream.errorFrameAt !== null) {
    frames.splice(
      stream.errorFrameAt % (frames.length + 1),
      0,
      ERROR_FRAME[protocol](`${VENDOR_ERROR_MARKER} stream failed`),
    );
  }
  if (reply.body === "not-json") frames.splice(1, 0, `data: ${ANSWER_MARKER} {oops\n\n`);
  let bytes = Buffer.from(frames.join(""), "utf8");
  if (stream.cutAt !== null) bytes = bytes.subarray(0, Math.floor(bytes.length * stream.cutAt));
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const boundaries = [...new Set(stream.writes.map((share) => Math.floor(bytes.length * share)))]
    .filter((offset) => offset > 0 && offset < bytes.length)
    .sort((a, b) => a - b);
  let from = 0;
  for (const offset of [...boundaries, bytes.length]) {
    response.write(bytes.subarray(from, offset));
    from = offset;
    // Separate writes reach the gateway as separate reads.
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (stream.end === "destroy") response.socket?.destroy();
  else response.end();
}
