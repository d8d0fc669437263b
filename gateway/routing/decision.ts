// One routing decision: the candidates of the model asked (and of any
// `models` fallbacks), less those a hard constraint rules out, ordered by the
// list's policy or by the client's `provider.sort` and `provider.order`.
// Every candidate appears in the decision, tried or skipped, with why.
import { formatDecimal, MONEY_SCALE } from "../../events/money.ts";
import type { RouteTarget } from "../config.ts";
import { truncated } from "../reflected-text.ts";
import {
  type DecisionEntry,
  estimatedCost,
  type PriceLookup,
  type RoutingRequest,
  rankByMeasure,
} from "./policies.ts";
import type { ProviderPreferences } from "./provider-preferences.ts";
import type { Candidate, RoutePlan } from "./route-table.ts";
import type { RoutingPolicyName } from "./routing-config.ts";

export interface DecisionInput {
  /** The model asked's list first, then each of `models`. */
  plans: readonly RoutePlan[];
  streamed: boolean;
  inputTokens: number;
  /** max_tokens (or max_completion_tokens) when the client set one. */
  maxOutputTokens: number | null;
  hasTools: boolean;
  provider: ProviderPreferences | null;
  /** Candidates ruled out before routing (no embeddings API, refused unpriced), with why. */
  refused: ReadonlyMap<RouteTarget, string> | null;
  at: number;
  prices: PriceLookup;
  random: () => number;
}

export interface RouteDecision {
  policy: RoutingPolicyName;
  scoreBasis: string | null;
  /** Those to try, in order, then those skipped. */
  entries: readonly DecisionEntry<Candidate>[];
  /** The candidates to try, in order. */
  attempts: readonly Candidate[];
  reason: string;
}

// Skip reasons, as route_decided carries them.
export const SKIP = {
  circuitOpen: "circuit_open",
  providerIgnored: "provider_ignored",
  notInProviderOnly: "provider_not_in_only",
  notInProviderOrder: "not_in_provider_order",
  fallbacksDisallowed: "fallbacks_disallowed",
  notZdr: "vendor_not_zdr",
  dataCollection: "vendor_collects_data",
  region: "vendor_region_not_allowed",
  tools: "tools_unsupported",
  maxTokens: "max_tokens_over_candidate_limit",
  inputTokens: "input_over_candidate_limit",
  overMaxPrice: "over_max_price",
  priceUnknown: "price_unknown",
} as const;

/** provider.order as route_decided's reason names it. */
const MAX_QUOTED_ORDER_LENGTH = 200;

const FALLBACK_REASON = "ordered fallback: the list's order; later ones on retryable failure";

export function decide(input: DecisionInput): RouteDecision {
  const primary = input.plans[0] as RoutePlan;
  // Nearly every request: one plain fallback list, no preference, nothing skipped.
  if (
    input.plans.length === 1 &&
    input.provider === null &&
    input.refused === null &&
    primary.policy.name === "fallback" &&
    primary.require === null &&
    !primary.constrained &&
    primary.candidates.every((candidate) => candidate.health.breaker.allowsAttempt())
  ) {
    return {
      policy: "fallback",
      scoreBasis: null,
      entries: primary.unfiltered,
      attempts: primary.candidates,
      reason: primary.candidates.length > 1 ? FALLBACK_REASON : "the only candidate",
    };
  }

  const seen = new Set<Candidate>();
  const seenTargets = new Set<string>();
  let ranked: DecisionEntry<Candidate>[] = [];
  const skipped: DecisionEntry<Candidate>[] = [];
  const primaryRequest = requestFor(input, primary);
  for (const plan of input.plans) {
    const request = plan === primary ? primaryRequest : requestFor(input, plan);
    const eligible: Candidate[] = [];
    for (const candidate of plan.candidates) {
      const target = `${candidate.vendor}/${candidate.model}`;
      if (seen.has(candidate) || seenTargets.has(target)) continue;
      seen.add(candidate);
      seenTargets.add(target);
      const reason = hardConstraint(input, plan, candidate, request);
      if (reason === null) eligible.push(candidate);
      else skipped.push({ candidate, score: null, skippedReason: reason });
    }
    const result = plan.policy.rank(request, eligible, healthOf);
    const samePolicy = plan.policy === primary.policy;
    for (const entry of result.ranked) ranked.push(samePolicy ? entry : { ...entry, score: null });
    skipped.push(...result.skipped);
  }

  let policy = primary.policy.name;
  let scoreBasis = primary.policy.scoreBasis(primaryRequest);
  let reason = primary.policy.describe(primaryRequest);
  if (input.plans.length > 1) {
    reason += `; then the models fallbacks ${input.plans
      .slice(1)
      .map((plan) => plan.name)
      .join(", ")}`;
  }
  const provider = input.provider;
  if (provider?.sort) {
    const sorted = sortBy(provider.sort, ranked, input, primaryRequest);
    ranked = sorted.ranked;
    scoreBasis = sorted.scoreBasis;
    if (sorted.policy) policy = sorted.policy;
    reason = `provider.sort=${provider.sort}: ${sorted.reason}`;
  }
  if (provider?.order) {
    ranked = byProviderOrder(ranked, provider.order);
    // The client's slugs, in the event: bounded like any text a client sends.
    reason += `; provider.order first (${truncated(provider.order.join(", "), MAX_QUOTED_ORDER_LENGTH)})`;
  }
  if (provider && !provider.allowFallbacks) {
    const order = provider.order ? new Set(provider.order) : null;
    const kept: DecisionEntry<Candidate>[] = [];
    for (const entry of ranked) {
      const keep = order ? order.has(entry.candidate.vendor) : kept.length === 0;
      if (keep) kept.push(entry);
      else {
        skipped.push({
          ...entry,
          skippedReason: order ? SKIP.notInProviderOrder : SKIP.fallbacksDisallowed,
        });
      }
    }
    ranked = kept;
    reason += "; provider.allow_fallbacks=false";
  }
  if (ranked.length === 0) reason = "no candidate is eligible";
  return {
    policy,
    scoreBasis,
    entries: [...ranked, ...skipped],
    attempts: ranked.map((entry) => entry.candidate),
    reason,
  };
}

function requestFor(input: DecisionInput, plan: RoutePlan): RoutingRequest {
  return {
    streamed: input.streamed,
    inputTokens: input.inputTokens,
    outputTokens: input.maxOutputTokens ?? plan.typicalOutputTokens,
    at: input.at,
    prices: input.prices,
    random: input.random,
    qualityFloor: plan.qualityFloor,
  };
}

const healthOf = (candidate: Candidate) => candidate.health;

/** The first hard constraint `candidate` breaks, or null. */
function hardConstraint(
  input: DecisionInput,
  plan: RoutePlan,
  candidate: Candidate,
  request: RoutingRequest,
): string | null {
  const refused = input.refused?.get(candidate);
  if (refused !== undefined) return refused;
  const provider = input.provider;
  const attributes = candidate.attributes;
  if (provider?.ignore?.has(candidate.vendor)) return SKIP.providerIgnored;
  if (provider?.only && !provider.only.has(candidate.vendor)) return SKIP.notInProviderOnly;
  if ((provider?.zdr || plan.require?.zdr) && !attributes.zdr) return SKIP.notZdr;
  if (
    (provider?.dataCollection === "deny" || plan.require?.dataCollectionDeny) &&
    attributes.dataCollection !== "deny"
  ) {
    return SKIP.dataCollection;
  }
  const regions = plan.require?.regions;
  if (regions && (attributes.region === null || !regions.has(attributes.region))) {
    return SKIP.region;
  }
  if (input.hasTools && !candidate.tools) return SKIP.tools;
  if (
    candidate.maxOutputTokens !== null &&
    input.maxOutputTokens !== null &&
    input.maxOutputTokens > candidate.maxOutputTokens
  ) {
    return SKIP.maxTokens;
  }
  if (candidate.maxInputTokens !== null && input.inputTokens > candidate.maxInputTokens) {
    return SKIP.inputTokens;
  }
  const maxPrice = provider?.maxPrice;
  if (maxPrice && (maxPrice.prompt !== null || maxPrice.completion !== null)) {
    const price = input.prices.priceOf(candidate, request.at);
    if (!price) return SKIP.priceUnknown;
    if (maxPrice.prompt !== null && price.scaled.input > maxPrice.prompt) return SKIP.overMaxPrice;
    if (maxPrice.completion !== null && price.scaled.output > maxPrice.completion) {
      return SKIP.overMaxPrice;
    }
  }
  if (!candidate.health.breaker.allowsAttempt()) return SKIP.circuitOpen;
  return null;
}

function sortBy(
  sort: NonNullable<ProviderPreferences["sort"]>,
  ranked: readonly DecisionEntry<Candidate>[],
  input: DecisionInput,
  request: RoutingRequest,
): {
  ranked: DecisionEntry<Candidate>[];
  scoreBasis: string;
  policy: RoutingPolicyName | null;
  reason: string;
} {
  const candidates = ranked.map((entry) => entry.candidate);
  if (sort === "price") {
    const costs = new Map(
      candidates.map((candidate) => [candidate, estimatedCost(request, candidate)]),
    );
    const byCost = candidates.map((candidate) => {
      const cost = costs.get(candidate) ?? null;
      return {
        candidate,
        score: cost === null ? null : formatDecimal(cost, MONEY_SCALE),
        skippedReason: null,
      };
    });
    byCost.sort((a, b) => {
      const x = costs.get(a.candidate) ?? null;
      const y = costs.get(b.candidate) ?? null;
      if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return {
      ranked: byCost,
      scoreBasis: "usd_per_estimated_request",
      policy: "cheapest",
      reason: `cheapest estimated cost (${request.inputTokens} input + ${request.outputTokens} output tokens)`,
    };
  }
  if (sort === "latency") {
    return {
      ...rankByMeasure(candidates, (candidate) =>
        input.streamed ? candidate.health.latency.ttftMs : candidate.health.latency.latencyMs,
      ),
      scoreBasis: input.streamed ? "ewma_ttft_ms" : "ewma_latency_ms",
      policy: "lowest_latency",
      reason: "lowest moving average latency; unmeasured first",
    };
  }
  return {
    ...rankByMeasure(candidates, (candidate) => candidate.health.latency.tokensPerSecond, true),
    scoreBasis: "ewma_output_tokens_per_second",
    policy: null,
    reason: "highest moving average output tokens per second; unmeasured first",
  };
}

/** The vendors `order` names first, in its order (stable within a vendor), then the rest. */
function byProviderOrder(
  ranked: DecisionEntry<Candidate>[],
  order: readonly string[],
): DecisionEntry<Candidate>[] {
  const position = new Map(order.map((vendor, index) => [vendor, index]));
  return ranked
    .map((entry, index) => ({
      entry,
      index,
      at: position.get(entry.candidate.vendor) ?? order.length,
    }))
    .sort((a, b) => a.at - b.at || a.index - b.index)
    .map(({ entry }) => entry);
}
