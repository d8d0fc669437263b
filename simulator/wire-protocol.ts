// The seam between the simulator's behaviour (server.ts: faults, latency, timing, the answer)
// and one vendor's wire protocol (openai-chat.ts, azure-openai.ts, anthropic-messages.ts,
// gemini-generate-content.ts): a
// protocol only reads requests into the neutral shape and writes answers and errors in its
// vendor's exact bytes. It never waits, draws or decides.
import type { IncomingHttpHeaders } from "node:http";
import type { SimulatedAnswer, SimulatedRequest } from "./completion.ts";

export interface SimulatedModel {
  id: string;
}

/** A whole HTTP answer, ready to write. */
export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The frames of one streamed answer, written with the behaviour's timing in between. */
export interface WireStream {
  headers: Record<string, string>;
  /** Frames before the first token (OpenAI: the role delta). */
  opening(): string;
  /** The frame carrying one token of the answer. */
  token(text: string): string;
  /** Frames after the last token: finish reason, usage, end marker. */
  closing(): string;
}

/** A completion request the protocol has read and accepted. */
export interface CompletionCall {
  request: SimulatedRequest;
  stream: boolean;
  /** The answer as one response (stream false). */
  respond(answer: SimulatedAnswer): WireResponse;
  /** The answer as a stream (stream true). */
  streamed(answer: SimulatedAnswer): WireStream;
}

export type ReadCompletion =
  | { accepted: true; call: CompletionCall }
  | { accepted: false; rejection: WireResponse };

/** An embeddings request the protocol has read and accepted. */
export interface EmbeddingsCall {
  model: string;
  texts: string[];
  dimensions: number | undefined;
  respond(vectors: number[][], promptTokens: number): WireResponse;
}

export type ReadEmbeddings =
  | { accepted: true; call: EmbeddingsCall }
  | { accepted: false; rejection: WireResponse };

export type Endpoint = "completion" | "embeddings" | "models";

export interface WireProtocol {
  /** The endpoint a request is for, or undefined when this protocol has no such path. */
  endpointOf(method: string, pathname: string): Endpoint | undefined;
  /** The rejection of a request without valid credentials, or undefined to let it in. */
  rejectUnauthenticated(headers: IncomingHttpHeaders): WireResponse | undefined;
  /** The request read into the neutral shape, or the vendor's rejection of a bad body. */
  readCompletion(body: string, pathname: string): ReadCompletion;
  /** For protocols with an embeddings endpoint: the request read, or the vendor's rejection. */
  readEmbeddings?(body: string, pathname: string): ReadEmbeddings;
  models(models: readonly SimulatedModel[]): WireResponse;
  unknownModel(modelId: string): WireResponse;
  unknownEndpoint(method: string, pathname: string): WireResponse;
  rateLimited(modelId: string, retryAfterSeconds: number): WireResponse;
  serverError(): WireResponse;
  /** The vendor's "overloaded" answer: 503, or Anthropic's 529. */
  overloaded(): WireResponse;
  /** A stream's frame carrying the vendor's error, as the first event of a 200 stream. */
  streamErrorFrame(): string;
}
