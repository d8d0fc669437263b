// Which requests fail, and how: per-request probabilities, one profile for every model and
// overrides per model, changeable while the simulator runs (an outage switched on and off).
import { z } from "zod";

/** Probabilities in [0, 1] per request, together at most 1. */
export interface FaultProfile {
  /** Answer 429 with `retry-after` and the vendor's rate-limit error. */
  rateLimited?: number;
  /** Answer 500 with the vendor's server error. */
  serverError?: number;
  /** Accept the request and never answer, until the client gives up or the simulator closes. */
  timeout?: number;
  /** Answer 503 (Anthropic: 529) with the vendor's overloaded error. */
  overloaded?: number;
  /** A stream answers 200 and its first event is the vendor's error; a whole answer is a 500. */
  streamError?: number;
  /** The connection is cut after the first token (a whole answer: halfway through its body). */
  streamCut?: number;
}

const FAULTS = [
  "rateLimited",
  "serverError",
  "timeout",
  "overloaded",
  "streamError",
  "streamCut",
] as const;

const probability = z.number().min(0).max(1);

export const faultProfileSchema: z.ZodType<FaultProfile> = z
  .strictObject({
    rateLimited: probability.optional(),
    serverError: probability.optional(),
    timeout: probability.optional(),
    overloaded: probability.optional(),
    streamError: probability.optional(),
    streamCut: probability.optional(),
  })
  .refine(
    (profile) => FAULTS.reduce((sum, fault) => sum + (profile[fault] ?? 0), 0) <= 1,
    "fault probabilities must add up to at most 1",
  );

export type Fault = (typeof FAULTS)[number];

export class FaultTable {
  private defaultProfile: FaultProfile;
  private readonly profileByModel: Map<string, FaultProfile>;

  constructor(
    defaultProfile: FaultProfile,
    profileByModel: Record<string, FaultProfile>,
    private readonly random: () => number,
  ) {
    this.defaultProfile = defaultProfile;
    this.profileByModel = new Map(Object.entries(profileByModel));
  }

  /** Replaces the profile of one model, or without a model the default for the others. */
  set(profile: FaultProfile, modelId?: string): void {
    const checked = faultProfileSchema.parse(profile);
    if (modelId === undefined) this.defaultProfile = checked;
    else this.profileByModel.set(modelId, checked);
  }

  /** The fault this request meets, if any. One draw per request, so a seed replays a run. */
  draw(modelId: string): Fault | undefined {
    const profile = this.profileByModel.get(modelId) ?? this.defaultProfile;
    let threshold = this.random();
    for (const fault of FAULTS) {
      threshold -= profile[fault] ?? 0;
      if (threshold < 0) return fault;
    }
    return undefined;
  }
}
