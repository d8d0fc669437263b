// The simulated vendor's behaviour on plain node:http: route to a wire protocol, count,
// authenticate, read the request, draw a fault, wait as the latency profile says, write the
// answer, and stop the moment the client goes away. Everything vendor-specific is the
// protocol's (wire-protocol.ts); everything here is the same for every vendor.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { anthropicMessages } from "./anthropic-messages.ts";
import { azureOpenAI } from "./azure-openai.ts";
import {
  type ScriptedReply,
  type SimulatedAnswer,
  type SimulatedUsage,
  simulateAnswer,
  simulateEmbeddings,
} from "./completion.ts";
import { type FaultProfile, FaultTable } from "./faults.ts";
import { geminiGenerateContent } from "./gemini-generate-content.ts";
import { type LatencyProfile, type LatencySampler, latencySampler } from "./latency.ts";
import { openAIChat } from "./openai-chat.ts";
import { seededRandom } from "./seeded-random.ts";
import type {
  CompletionCall,
  EmbeddingsCall,
  Endpoint,
  SimulatedModel,
  WireProtocol,
  WireResponse,
  WireStream,
} from "./wire-protocol.ts";

// One line per wire protocol; the first also answers paths no protocol knows.
const PROTOCOLS: readonly WireProtocol[] = [
  openAIChat,
  anthropicMessages,
  geminiGenerateContent,
  azureOpenAI,
];

// What a rate-limited client is told to wait: long enough to be a real back-off, short
// enough for tests that honour it.
const RETRY_AFTER_SECONDS = 1;

// How many answers `answered()` keeps: the latest, enough for any test's look back.
const ANSWERS_REMEMBERED = 1024;

export interface SimulatorSettings {
  host: string;
  port: number;
  models: SimulatedModel[];
  latency: LatencyProfile;
  faults: FaultProfile;
  faultsByModel: Record<string, FaultProfile>;
  seed: number;
  scripts: ScriptedReply[];
}

export interface AnsweredRequest {
  model: string;
  usage: SimulatedUsage;
}

export interface RunningSimulator {
  /** "http://127.0.0.1:PORT"; OpenAI clients use `${url}/v1`. */
  url: string;
  /** Replaces the faults of one model, or without a model those of every model without its own. */
  setFaults(faults: FaultProfile, modelId?: string): void;
  /** Completion and embeddings requests received so far, whatever became of them. */
  requestCount(): number;
  /** The latest answers begun (up to 1024), in order, with the usage each reports. */
  answered(): AnsweredRequest[];
  /** Stops listening and ends every connection, hanging "timeout" requests included. */
  close(): Promise<void>;
}

export async function startServer(settings: SimulatorSettings): Promise<RunningSimulator> {
  const modelIds = new Set(settings.models.map((model) => model.id));
  // One generator for every draw, in the order requests arrive.
  const random = seededRandom(settings.seed);
  const faults = new FaultTable(settings.faults, settings.faultsByModel, random);
  const latency = latencySampler(settings.latency, random);
  let completionRequests = 0;
  // The usage of the latest answers begun, in order: what the vendor "reported", for tests.
  // Bounded, so a demo or benchmark running for hours does not grow with it.
  const answered: AnsweredRequest[] = [];
  const remember = (entry: AnsweredRequest) => {
    if (answered.length === ANSWERS_REMEMBERED) answered.shift();
    answered.push(entry);
  };

  const server = createServer((request, response) => {
    answerSafely(response, () => route(request, response));
  });

  function route(request: IncomingMessage, response: ServerResponse): void {
    const method = request.method ?? "GET";
    const url = request.url ?? "/";
    const queryStart = url.indexOf("?");
    const pathname = queryStart === -1 ? url : url.slice(0, queryStart);
    for (const protocol of PROTOCOLS) {
      const endpoint = protocol.endpointOf(method, pathname);
      if (endpoint !== undefined) {
        serve(protocol, endpoint, pathname, request, response);
        return;
      }
    }
    send(response, (PROTOCOLS[0] as WireProtocol).unknownEndpoint(method, pathname));
  }

  function serve(
    protocol: WireProtocol,
    endpoint: Endpoint,
    pathname: string,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    if (endpoint !== "models") completionRequests += 1;
    const rejection = protocol.rejectUnauthenticated(request.headers);
    if (rejection) {
      send(response, rejection);
    } else if (endpoint === "models") {
      send(response, protocol.models(settings.models));
    } else if (endpoint === "embeddings") {
      readBody(request, (body) =>
        answerSafely(response, () => {
          const read = protocol.readEmbeddings?.(body, pathname);
          if (!read) send(response, protocol.unknownEndpoint(request.method ?? "POST", pathname));
          else if (read.accepted) answerEmbeddings(protocol, read.call, response);
          else send(response, read.rejection);
        }),
      );
    } else {
      readBody(request, (body) =>
        answerSafely(response, () => {
          const read = protocol.readCompletion(body, pathname);
          if (read.accepted) answerCompletion(protocol, read.call, response);
          else send(response, read.rejection);
        }),
      );
    }
  }

  function answerCompletion(
    protocol: WireProtocol,
    call: CompletionCall,
    response: ServerResponse,
  ): void {
    const modelId = call.request.model;
    if (!modelIds.has(modelId)) {
      send(response, protocol.unknownModel(modelId));
      return;
    }
    const fault = faults.draw(modelId);
    if (fault === "rateLimited") {
      send(response, protocol.rateLimited(modelId, RETRY_AFTER_SECONDS));
    } else if (fault === "serverError") {
      send(response, protocol.serverError());
    } else if (fault === "overloaded") {
      send(response, protocol.overloaded());
    } else if (fault === "streamError") {
      if (call.stream) {
        const stream = call.streamed(simulateAnswer(call.request, settings.scripts));
        response.writeHead(200, stream.headers);
        response.end(protocol.streamErrorFrame());
      } else send(response, protocol.serverError());
    } else if (fault === "streamCut") {
      cutOff(call, response);
    } else if (fault === undefined) {
      answerInTime(call, response);
    }
    // A "timeout" never answers; the client's own timeout or close() ends the connection.
  }

  /** The start of an answer, then the connection is destroyed: a vendor dying mid-answer. */
  function cutOff(call: CompletionCall, response: ServerResponse): void {
    const answer = simulateAnswer(call.request, settings.scripts);
    if (call.stream) {
      const stream = call.streamed(answer);
      response.writeHead(200, stream.headers);
      response.write(stream.opening() + stream.token(answer.tokens[0] ?? ""), () =>
        response.destroy(),
      );
    } else {
      const whole = call.respond(answer);
      response.writeHead(whole.status, {
        ...whole.headers,
        "content-length": Buffer.byteLength(whole.body),
      });
      response.write(whole.body.slice(0, Math.floor(whole.body.length / 2)), () =>
        response.destroy(),
      );
    }
  }

  function answerEmbeddings(
    protocol: WireProtocol,
    call: EmbeddingsCall,
    response: ServerResponse,
  ): void {
    if (!modelIds.has(call.model)) {
      send(response, protocol.unknownModel(call.model));
      return;
    }
    const fault = faults.draw(call.model);
    if (fault === "rateLimited") {
      send(response, protocol.rateLimited(call.model, RETRY_AFTER_SECONDS));
    } else if (fault === "serverError" || fault === "streamError" || fault === "streamCut") {
      send(response, protocol.serverError());
    } else if (fault === "overloaded") {
      send(response, protocol.overloaded());
    } else if (fault === undefined) {
      const { vectors, promptTokens } = simulateEmbeddings(call.texts, call.dimensions);
      remember({ model: call.model, usage: { promptTokens, completionTokens: 0 } });
      after(latency.firstByteMs(), response, () =>
        send(response, call.respond(vectors, promptTokens)),
      );
    }
  }

  function answerInTime(call: CompletionCall, response: ServerResponse): void {
    const answer = simulateAnswer(call.request, settings.scripts);
    remember({ model: call.request.model, usage: answer.usage });
    const firstByteMs = latency.firstByteMs();
    if (call.stream) {
      after(firstByteMs, response, () =>
        writeStream(response, call.streamed(answer), answer.tokens, latency),
      );
    } else {
      // A whole answer arrives when its streamed twin would have finished.
      after(firstByteMs + generationMs(answer, latency), response, () =>
        send(response, call.respond(answer)),
      );
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.port, settings.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    setFaults(profile, modelId) {
      if (modelId !== undefined && !modelIds.has(modelId)) {
        throw new RangeError(`setFaults: unknown model ${modelId}`);
      }
      faults.set(profile, modelId);
    },
    requestCount: () => completionRequests,
    answered: () => [...answered],
    close() {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

// A bug in the simulator answers 500 with its message, rather than taking down the process
// (and every other test or benchmark connection) with it.
function answerSafely(response: ServerResponse, action: () => void): void {
  try {
    action();
  } catch (error) {
    if (response.headersSent) {
      response.destroy(error as Error);
      return;
    }
    send(response, {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: `simulator bug: ${error instanceof Error ? error.stack : String(error)}`,
    });
  }
}

function readBody(request: IncomingMessage, onBody: (body: string) => void): void {
  let body = "";
  request.setEncoding("utf8");
  request.on("data", (chunk: string) => {
    body += chunk;
  });
  request.on("end", () => onBody(body));
}

function send(response: ServerResponse, answer: WireResponse): void {
  response.writeHead(answer.status, {
    ...answer.headers,
    "content-length": Buffer.byteLength(answer.body),
  });
  response.end(answer.body);
}

// The time from first to last token.
function generationMs(answer: SimulatedAnswer, latency: LatencySampler): number {
  return Math.max(answer.tokens.length - 1, 0) * latency.interTokenMs;
}

/** Runs `action` after `delayMs`, at once for 0, and never if the client leaves first. */
function after(delayMs: number, response: ServerResponse, action: () => void): void {
  if (delayMs <= 0) {
    action();
    return;
  }
  const timer = setTimeout(action, delayMs);
  response.once("close", () => clearTimeout(timer));
}

/**
 * The opening frames and first token at once (time to first token is time to first byte),
 * then one token every interTokenMs, the closing frames with the last. Each frame is written
 * as it comes due; a client that leaves stops the clock. An answer is a few kilobytes, so a
 * slow reader is not waited for (no backpressure).
 */
function writeStream(
  response: ServerResponse,
  stream: WireStream,
  tokens: readonly string[],
  latency: LatencySampler,
): void {
  response.writeHead(200, stream.headers);
  if (latency.interTokenMs <= 0 || tokens.length <= 1) {
    let frames = stream.opening();
    for (const token of tokens) frames += stream.token(token);
    response.end(frames + stream.closing());
    return;
  }
  response.write(stream.opening() + stream.token(tokens[0] as string));
  let next = 1;
  const timer = setInterval(() => {
    response.write(stream.token(tokens[next] as string));
    next += 1;
    if (next === tokens.length) {
      clearInterval(timer);
      response.end(stream.closing());
    }
  }, latency.interTokenMs);
  response.once("close", () => clearInterval(timer));
}
