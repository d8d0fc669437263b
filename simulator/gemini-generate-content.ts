// Google Gemini's Generative Language wire protocol (v1beta): `models/{model}:generateContent`
// and `models/{model}:streamGenerateContent`, answered as server-sent events whose every frame
// is a whole GenerateContentResponse carrying the usage so far (as with `?alt=sse`; the query
// string never reaches a protocol, so a stream is always SSE here), and Google's RPC error
// envelope. Shapes follow the Firebase SDKs' recorded answers
// (test/reference/vertexai-sdk-test-data/mock-responses/).
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

const MODEL_PATH = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

// ── The request ─────────────────────────────────────────────────────────────────────────────

const part = z.looseObject({
  text: z.string().optional(),
  functionCall: z.looseObject({ name: z.string() }).optional(),
  functionResponse: z.looseObject({ name: z.string(), response: z.looseObject({}) }).optional(),
});
const content = z.looseObject({
  role: z.enum(["user", "model"]).optional(),
  parts: z.array(part).min(1),
});

const generateContentSchema = z.looseObject({
  contents: z.array(content).min(1),
  systemInstruction: z.looseObject({ parts: z.array(part) }).optional(),
  tools: z
    .array(
      z.looseObject({
        functionDeclarations: z
          .array(
            z.looseObject({
              name: z.string(),
              parameters: z.looseObject({}).optional(),
              parametersJsonSchema: z.looseObject({}).optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
  toolConfig: z
    .looseObject({
      functionCallingConfig: z
        .looseObject({
          mode: z.enum(["AUTO", "ANY", "NONE", "VALIDATED"]).optional(),
          allowedFunctionNames: z.array(z.string()).optional(),
        })
        .optional(),
    })
    .optional(),
  generationConfig: z.looseObject({ maxOutputTokens: z.int().min(1).optional() }).optional(),
});

type GenerateContentRequest = z.infer<typeof generateContentSchema>;

function textOfParts(parts: z.infer<typeof part>[]): string {
  let text = "";
  for (const each of parts) {
    if (each.text !== undefined) text += each.text;
    else if (each.functionResponse) text += JSON.stringify(each.functionResponse.response);
  }
  return text;
}

function fromGenerateContentRequest(
  model: string,
  request: GenerateContentRequest,
): SimulatedRequest {
  const texts: string[] = [];
  if (request.systemInstruction) texts.push(textOfParts(request.systemInstruction.parts));
  for (const each of request.contents) texts.push(textOfParts(each.parts));
  const tools: SimulatedTool[] = (request.tools ?? []).flatMap((tool) =>
    (tool.functionDeclarations ?? []).map((declaration) => ({
      name: declaration.name,
      parameters: (declaration.parametersJsonSchema ?? declaration.parameters ?? {}) as Record<
        string,
        unknown
      >,
    })),
  );
  const config = request.toolConfig?.functionCallingConfig;
  const forced = config?.allowedFunctionNames?.[0];
  return {
    model,
    messageTexts: texts,
    maxOutputTokens: request.generationConfig?.maxOutputTokens,
    tools,
    toolChoice:
      config?.mode === "NONE"
        ? "none"
        : config?.mode === "ANY"
          ? forced
            ? { name: forced }
            : "required"
          : "auto",
    endsWithToolResult:
      request.contents.at(-1)?.parts.some((each) => each.functionResponse !== undefined) ?? false,
  };
}

// ── Responses ───────────────────────────────────────────────────────────────────────────────

const ID_TAG = randomBytes(6).toString("base64url");
let counter = 0;
function nextResponseId(): string {
  counter += 1;
  return `${ID_TAG}${counter.toString(36)}`;
}

function rpcError(
  code: number,
  status: string,
  message: string,
  extra: Record<string, string> = {},
): WireResponse {
  return {
    status: code,
    headers: { "content-type": "application/json; charset=UTF-8", ...extra },
    body: JSON.stringify({ error: { code, message, status } }, null, 2),
  };
}

const FINISH_REASONS = { stop: "STOP", length: "MAX_TOKENS", tool_calls: "STOP" } as const;

function usageMetadata(answer: SimulatedAnswer, candidatesTokens: number | undefined) {
  const prompt = answer.usage.promptTokens;
  return {
    promptTokenCount: prompt,
    ...(candidatesTokens !== undefined ? { candidatesTokenCount: candidatesTokens } : {}),
    totalTokenCount: prompt + (candidatesTokens ?? 0),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }],
  };
}

function answerParts(answer: SimulatedAnswer): Record<string, unknown>[] {
  if (answer.toolCall) {
    return [
      {
        functionCall: {
          name: answer.toolCall.name,
          args: JSON.parse(answer.tokens.join("") || "{}"),
        },
      },
    ];
  }
  return [{ text: answer.tokens.join("") }];
}

class GeminiCall implements CompletionCall {
  readonly request: SimulatedRequest;

  constructor(
    private readonly model: string,
    body: GenerateContentRequest,
    readonly stream: boolean,
  ) {
    this.request = fromGenerateContentRequest(model, body);
  }

  respond(answer: SimulatedAnswer): WireResponse {
    return {
      status: 200,
      headers: { "content-type": "application/json; charset=UTF-8" },
      body: JSON.stringify({
        candidates: [
          {
            content: { parts: answerParts(answer), role: "model" },
            finishReason: FINISH_REASONS[answer.finishReason],
            index: 0,
          },
        ],
        usageMetadata: usageMetadata(answer, answer.usage.completionTokens),
        modelVersion: this.model,
        responseId: nextResponseId(),
      }),
    };
  }

  streamed(answer: SimulatedAnswer): WireStream {
    const model = this.model;
    const responseId = nextResponseId();
    const frame = (candidate: Record<string, unknown>, candidatesTokens: number | undefined) =>
      `data: ${JSON.stringify({
        candidates: [{ ...candidate, index: 0 }],
        usageMetadata: usageMetadata(answer, candidatesTokens),
        modelVersion: model,
        responseId,
      })}\r\n\r\n`;
    return {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
      opening: () => "",
      // Text arrives a piece per frame; a function call arrives whole, in the last frame.
      token: (text) =>
        answer.toolCall ? "" : frame({ content: { parts: [{ text }], role: "model" } }, undefined),
      closing: () =>
        frame(
          {
            content: {
              parts: answer.toolCall ? answerParts(answer) : [{ text: "" }],
              role: "model",
            },
            finishReason: FINISH_REASONS[answer.finishReason],
          },
          answer.usage.completionTokens,
        ),
    };
  }
}

// ── The protocol ──────────────────────────────────────────────────────────────────────────

export const geminiGenerateContent: WireProtocol = {
  endpointOf(method: string, pathname: string): Endpoint | undefined {
    return method === "POST" && MODEL_PATH.test(pathname) ? "completion" : undefined;
  },

  rejectUnauthenticated(headers: IncomingHttpHeaders) {
    const key = headers["x-goog-api-key"];
    if (typeof key === "string" && key.trim() !== "") return undefined;
    return rpcError(
      403,
      "PERMISSION_DENIED",
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    );
  },

  readCompletion(body: string, pathname: string) {
    const [, model = "", method] = MODEL_PATH.exec(pathname) ?? [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return {
        accepted: false,
        rejection: rpcError(
          400,
          "INVALID_ARGUMENT",
          "Invalid JSON payload received. Unexpected token.",
        ),
      };
    }
    const result = generateContentSchema.safeParse(parsed);
    if (result.success) {
      return {
        accepted: true,
        call: new GeminiCall(
          decodeURIComponent(model),
          result.data,
          method === "streamGenerateContent",
        ),
      };
    }
    const issue = result.error.issues[0];
    return {
      accepted: false,
      rejection: rpcError(
        400,
        "INVALID_ARGUMENT",
        `Invalid value at '${issue?.path.join(".")}': ${issue?.message}`,
      ),
    };
  },

  models(models) {
    return {
      status: 200,
      headers: { "content-type": "application/json; charset=UTF-8" },
      body: JSON.stringify({
        models: models.map((model) => ({
          name: `models/${model.id}`,
          supportedGenerationMethods: ["generateContent", "streamGenerateContent"],
        })),
      }),
    };
  },

  unknownModel(modelId: string) {
    return rpcError(
      404,
      "NOT_FOUND",
      `models/${modelId} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.`,
    );
  },

  unknownEndpoint(method: string, pathname: string) {
    return rpcError(
      404,
      "NOT_FOUND",
      `The requested URL ${pathname} (${method}) was not found on this server.`,
    );
  },

  rateLimited(_modelId: string, retryAfterSeconds: number) {
    return rpcError(
      429,
      "RESOURCE_EXHAUSTED",
      "You exceeded your current quota, please check your plan and billing details.",
      { "retry-after": String(retryAfterSeconds) },
    );
  },

  serverError() {
    return rpcError(
      500,
      "INTERNAL",
      "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    );
  },

  overloaded() {
    return rpcError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.");
  },

  streamErrorFrame() {
    return `data: ${JSON.stringify({
      error: {
        code: 503,
        message: "The model is overloaded. Please try again later.",
        status: "UNAVAILABLE",
      },
    })}\r\n\r\n`;
  },
};
