// How long a simulated vendor takes: time to first byte drawn from a lognormal fitted to a
// median and a 95th percentile (service times are skewed to the right, like real vendors'),
// then a fixed gap between tokens.
import { z } from "zod";

export interface LatencyProfile {
  firstByteMs: { median: number; p95: number };
  interTokenMs: number;
}

const milliseconds = z.number().min(0);

export const latencyProfileSchema: z.ZodType<LatencyProfile> = z.strictObject({
  firstByteMs: z
    .strictObject({ median: milliseconds, p95: milliseconds })
    .refine((firstByte) => firstByte.p95 >= firstByte.median, "p95 must be at least the median")
    .refine(
      (firstByte) => firstByte.median > 0 || firstByte.p95 === 0,
      "a zero median needs a zero p95 (a lognormal with median 0 is always 0)",
    ),
  interTokenMs: milliseconds,
});

export const INSTANT: LatencyProfile = { firstByteMs: { median: 0, p95: 0 }, interTokenMs: 0 };

// The standard normal's 95th percentile: p95 = median · e^(σ · Z95).
const Z95 = 1.6448536269514722;

export interface LatencySampler {
  /** Milliseconds before the first byte of an answer; 0 for an instant profile. */
  firstByteMs(): number;
  readonly interTokenMs: number;
}

export function latencySampler(profile: LatencyProfile, random: () => number): LatencySampler {
  const { median, p95 } = profile.firstByteMs;
  const interTokenMs = profile.interTokenMs;
  if (median === 0) return { firstByteMs: () => 0, interTokenMs };
  const sigma = Math.log(p95 / median) / Z95;
  if (sigma === 0) return { firstByteMs: () => median, interTokenMs };
  return {
    firstByteMs: () => median * Math.exp(sigma * standardNormal(random)),
    interTokenMs,
  };
}

// Box–Muller; 1 - u keeps the logarithm's argument away from 0.
function standardNormal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
