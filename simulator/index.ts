// A simulated LLM vendor on loopback, speaking the vendors' real wire protocols (OpenAI chat
// completions and embeddings, Azure OpenAI, Anthropic Messages, Gemini generateContent), all
// on one port, with configurable latency, errors and outages, for tests, demos and
// benchmarks. This file is the whole public surface; see server.ts for the behaviour and
// wire-protocol.ts for how a protocol plugs in.
import { z } from "zod";
import { type ScriptedReply, simulateUsage } from "./completion.ts";
import { type FaultProfile, faultProfileSchema } from "./faults.ts";
import { INSTANT, type LatencyProfile, latencyProfileSchema } from "./latency.ts";
import { type ChatCompletionRequest, fromChatCompletionRequest } from "./openai-chat.ts";
import { type RunningSimulator, startServer } from "./server.ts";
import type { SimulatedModel } from "./wire-protocol.ts";

export type { ScriptedReply } from "./completion.ts";
export type { FaultProfile } from "./faults.ts";
export type { LatencyProfile } from "./latency.ts";
export type { ChatCompletionRequest } from "./openai-chat.ts";
export type { AnsweredRequest, RunningSimulator } from "./server.ts";
export type { SimulatedModel } from "./wire-protocol.ts";

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port (read it from `url`). */
  port?: number;
  models: SimulatedModel[];
  /** Default instant: no waiting at all. */
  latency?: LatencyProfile;
  /** Default none. */
  faults?: FaultProfile;
  /** Overrides of `faults` per model id. */
  faultsByModel?: Record<string, FaultProfile>;
  /** Seeds the draws of faults and latencies, so a run repeats. */
  seed?: number;
  /**
   * Answers given instead of the drawn words when the last message contains a text
   * (completion.ts, ScriptedReply); the first that applies wins. Default none.
   */
  scripts?: ScriptedReply[];
}

// Any fixed seed will do; fixed by default so an unseeded run repeats too.
const DEFAULT_SEED = 0x5eed;

const optionsSchema = z
  .strictObject({
    host: z.string().min(1).default("127.0.0.1"),
    port: z.int().min(0).max(65_535).default(0),
    models: z
      .array(z.strictObject({ id: z.string().min(1) }))
      .min(1)
      .refine(
        (models) => new Set(models.map((model) => model.id)).size === models.length,
        "model ids must be unique",
      ),
    latency: latencyProfileSchema.default(INSTANT),
    faults: faultProfileSchema.default({}),
    faultsByModel: z.record(z.string(), faultProfileSchema).default({}),
    seed: z.int().default(DEFAULT_SEED),
    scripts: z
      .array(
        z
          .strictObject({
            whenLastMessageContains: z.string().min(1),
            model: z.string().min(1).optional(),
            reply: z.string().optional(),
            toolCall: z
              .strictObject({ name: z.string().min(1), argumentsJson: z.string() })
              .optional(),
          })
          .refine(
            (script) => (script.reply === undefined) !== (script.toolCall === undefined),
            "a script has either reply or toolCall",
          ),
      )
      .default([]),
  })
  .refine(
    (options) => {
      const modelIds = new Set(options.models.map((model) => model.id));
      return Object.keys(options.faultsByModel).every((modelId) => modelIds.has(modelId));
    },
    { message: "faultsByModel names a model that is not in models", path: ["faultsByModel"] },
  );

/** Starts a simulator; a bad option throws an error naming it. */
export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const result = optionsSchema.safeParse(options);
  if (!result.success) {
    throw new Error(`invalid simulator options:\n${z.prettifyError(result.error)}`);
  }
  return startServer(result.data);
}

/** The usage the simulator reports for an OpenAI chat request, so tests can predict it. */
export function usageFor(request: ChatCompletionRequest): {
  promptTokens: number;
  completionTokens: number;
} {
  return simulateUsage(fromChatCompletionRequest(request));
}
