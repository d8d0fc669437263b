// The RoutingPolicy port and its four adapters. A policy takes the request,
// the candidates that passed the hard constraints, and their health, and
// returns them in the order to try, each with its score (a decimal string,
// never a float: scores are often prices), plus any it skips and why.
import { formatDecimal, MONEY_SCALE } from "../../events/money.ts";
import type { RouteTarget } from "../config.ts";
import { formatMeasure, type LatencyTracker } from "./latency-tracker.ts";
import type { RoutingPolicyName } from "./routing-config.ts";

/** What a policy may read of a candidate. */
export interface PolicyCandidate extends RouteTarget {
  /** Weighted policy's share (an integer, 1 by default). */
  readonly weight: number;
  /** Quality on this candidate list's task, scaled by 10^6; null when not configured. */
  readonly quality: bigint | null;
}

/** What a policy may read of a candidate's health. */
export interface CandidateHealth {
  readonly latency: Pick<LatencyTracker, "latencyMs" | "ttftMs" | "tokensPerSecond">;
}

/** A catalog price as routing reads it: USD per million tokens scaled by 10^12, fee scaled by 10^18. */
export interface PriceLookup {
  priceOf(
    target: RouteTarget,
    at?: number,
  ): { scaled: { input: bigint; output: bigint }; perRequest?: { scaled: bigint } } | undefined;
}

export interface RoutingRequest {
  streamed: boolean;
  /** Estimated input tokens of the request. */
  inputTokens: number;
  /** max_tokens when the client set one, else the configured typical output. */
  outputTokens: number;
  /** Epoch ms: the price card in force then. */
  at: number;
  prices: PriceLookup;
  random: () => number;
  /** The cheapest policy's floor, scaled by 10^6; null for none. */
  qualityFloor: bigint | null;
}

export interface DecisionEntry<C extends PolicyCandidate = PolicyCandidate> {
  candidate: C;
  score: string | null;
  skippedReason: string | null;
}

export interface RankedCandidates<C extends PolicyCandidate = PolicyCandidate> {
  /** In the order to try them. */
  ranked: DecisionEntry<C>[];
  skipped: DecisionEntry<C>[];
}

export interface RoutingPolicy {
  readonly name: RoutingPolicyName;
  /** What the scores mean, for route_decided's score_basis. */
  scoreBasis(request: RoutingRequest): string | null;
  rank<C extends PolicyCandidate>(
    request: RoutingRequest,
    candidates: readonly C[],
    health: (candidate: C) => CandidateHealth,
  ): RankedCandidates<C>;
  /** One line for route_decided's reason. */
  describe(request: RoutingRequest): string;
}

/** The order written in config. */
export const fallbackPolicy: RoutingPolicy = {
  name: "fallback",
  scoreBasis: () => null,
  rank(_request, candidates) {
    return {
      ranked: candidates.map((candidate) => ({ candidate, score: null, skippedReason: null })),
      skipped: [],
    };
  },
  describe: () => "ordered fallback: the list's order; later ones on retryable failure",
};

/**
 * The lowest estimated cost of this request (estimated input tokens, and
 * max_tokens or the typical output, at the card's list prices, plus any
 * per-request fee), among candidates at or above the quality floor. A
 * candidate with no price is tried after every priced one.
 */
export const cheapestPolicy: RoutingPolicy = {
  name: "cheapest",
  scoreBasis: () => "usd_per_estimated_request",
  rank(request, candidates) {
    const ranked: DecisionEntry<(typeof candidates)[number]>[] = [];
    const skipped: DecisionEntry<(typeof candidates)[number]>[] = [];
    const costs = new Map<PolicyCandidate, bigint | null>();
    for (const candidate of candidates) {
      if (
        request.qualityFloor !== null &&
        (candidate.quality === null || candidate.quality < request.qualityFloor)
      ) {
        skipped.push({ candidate, score: null, skippedReason: "below_quality_floor" });
        continue;
      }
      const cost = estimatedCost(request, candidate);
      costs.set(candidate, cost);
      ranked.push({
        candidate,
        score: cost === null ? null : formatDecimal(cost, MONEY_SCALE),
        skippedReason: null,
      });
    }
    ranked.sort((a, b) => compareNullsLast(costs.get(a.candidate), costs.get(b.candidate)));
    return { ranked, skipped };
  },
  describe(request) {
    const floor =
      request.qualityFloor === null
        ? ""
        : ` at quality >= ${formatDecimal(request.qualityFloor, QUALITY_SCALE)}`;
    return `cheapest estimated cost (${request.inputTokens} input + ${request.outputTokens} output tokens)${floor}`;
  },
};

/**
 * The lowest moving average of time to first token (streams) or of the whole
 * answer (otherwise). Candidates not measured yet go first, in list order,
 * so each is measured.
 */
export const lowestLatencyPolicy: RoutingPolicy = {
  name: "lowest_latency",
  scoreBasis: (request) => (request.streamed ? "ewma_ttft_ms" : "ewma_latency_ms"),
  rank(request, candidates, health) {
    return rankByMeasure(candidates, (candidate) => {
      const latency = health(candidate).latency;
      return request.streamed ? latency.ttftMs : latency.latencyMs;
    });
  },
  describe: (request) =>
    `lowest moving average of ${request.streamed ? "time to first token" : "latency"}; unmeasured first`,
};

/** A weighted draw without replacement: the first pick by weight, then the next among the rest. */
export const weightedPolicy: RoutingPolicy = {
  name: "weighted",
  scoreBasis: () => "weight",
  rank(request, candidates) {
    const pool = [...candidates];
    const ranked: DecisionEntry<(typeof candidates)[number]>[] = [];
    let total = pool.reduce((sum, candidate) => sum + candidate.weight, 0);
    while (pool.length > 0) {
      let draw = Math.floor(request.random() * total);
      let index = 0;
      while (index < pool.length - 1 && draw >= (pool[index] as PolicyCandidate).weight) {
        draw -= (pool[index] as PolicyCandidate).weight;
        index += 1;
      }
      const [candidate] = pool.splice(index, 1);
      if (!candidate) break;
      total -= candidate.weight;
      ranked.push({ candidate, score: String(candidate.weight), skippedReason: null });
    }
    return { ranked, skipped: [] };
  },
  describe: () => "weighted random draw",
};

export const POLICIES: Record<RoutingPolicyName, RoutingPolicy> = {
  fallback: fallbackPolicy,
  cheapest: cheapestPolicy,
  lowest_latency: lowestLatencyPolicy,
  weighted: weightedPolicy,
};

/** Quality scores are held scaled by 10^6 (config allows 6 decimal places). */
export const QUALITY_SCALE = 6;

/** The request's estimated cost at `candidate`'s list price, scaled by 10^18; null when unpriced. */
export function estimatedCost(request: RoutingRequest, candidate: RouteTarget): bigint | null {
  const price = request.prices.priceOf(candidate, request.at);
  if (!price) return null;
  return (
    BigInt(request.inputTokens) * price.scaled.input +
    BigInt(request.outputTokens) * price.scaled.output +
    (price.perRequest?.scaled ?? 0n)
  );
}

/** Ascending by a measure, the unmeasured first (in their given order). */
export function rankByMeasure<C extends PolicyCandidate>(
  candidates: readonly C[],
  measure: (candidate: C) => number | null,
  descending = false,
): RankedCandidates<C> {
  const values = new Map<C, number | null>();
  const ranked = candidates.map((candidate) => {
    const value = measure(candidate);
    values.set(candidate, value);
    return { candidate, score: value === null ? null : formatMeasure(value), skippedReason: null };
  });
  ranked.sort((a, b) => {
    const x = values.get(a.candidate) ?? null;
    const y = values.get(b.candidate) ?? null;
    if (x === null || y === null) return x === y ? 0 : x === null ? -1 : 1;
    return descending ? y - x : x - y;
  });
  return { ranked, skipped: [] };
}

function compareNullsLast(a: bigint | null | undefined, b: bigint | null | undefined): number {
  if (a === null || a === undefined || b === null || b === undefined) {
    return a === b || (a == null && b == null) ? 0 : a == null ? 1 : -1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
