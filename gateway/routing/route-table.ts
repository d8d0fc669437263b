// The route table, compiled once at start-up from config: every candidate
// list (task classes, aliases, the older `routes`, and a `vendor/model` pin
// for every candidate) with its policy, each candidate with its constraints,
// and one health record (circuit breaker, latency averages) per vendor-model
// shared by every list that names it. Nothing here is rebuilt per request.
import { parseDecimal } from "../../events/money.ts";
import type { GatewayConfig, RouteTarget, VendorConfig } from "../config.ts";
import { CircuitBreaker, type CircuitBreakerSettings } from "./circuit-breaker.ts";
import { LatencyTracker } from "./latency-tracker.ts";
import {
  type DecisionEntry,
  POLICIES,
  type PolicyCandidate,
  QUALITY_SCALE,
  type RoutingPolicy,
} from "./policies.ts";
import type { CandidateConfig, RoutingConfig } from "./routing-config.ts";

export interface VendorAttributes {
  zdr: boolean;
  dataCollection: "allow" | "deny";
  region: string | null;
}

/** Per vendor-model, shared by every list naming it. */
export interface Health {
  readonly breaker: CircuitBreaker;
  readonly latency: LatencyTracker;
}

/** One entry of one candidate list. */
export class Candidate implements PolicyCandidate {
  readonly vendor: string;
  readonly model: string;
  readonly weight: number;
  readonly quality: bigint | null;
  readonly maxInputTokens: number | null;
  readonly maxOutputTokens: number | null;
  readonly tools: boolean;

  constructor(
    entry: CandidateConfig,
    readonly attributes: VendorAttributes,
    readonly health: Health,
  ) {
    this.vendor = entry.vendor;
    this.model = entry.model;
    this.weight = entry.weight ?? 1;
    this.quality = entry.quality === undefined ? null : parseDecimal(entry.quality, QUALITY_SCALE);
    this.maxInputTokens = entry.max_input_tokens ?? null;
    this.maxOutputTokens = entry.max_output_tokens ?? null;
    this.tools = entry.tools;
  }
}

export interface Requirements {
  zdr: boolean;
  dataCollectionDeny: boolean;
  regions: ReadonlySet<string> | null;
}

export interface RoutePlan {
  /** The alias, route, task class or pin this list was configured as. */
  name: string;
  policy: RoutingPolicy;
  qualityFloor: bigint | null;
  typicalOutputTokens: number;
  require: Requirements | null;
  candidates: readonly Candidate[];
  /** True when some candidate has a constraint a request can break (tools, token limits). */
  constrained: boolean;
  /** The decision when nothing is skipped, for the plain fallback policy: made once. */
  unfiltered: readonly DecisionEntry<Candidate>[];
}

/** An alias that follows the request's own task class. */
export const BY_TASK = Symbol("by_task");

export class RouteTable {
  readonly tasks = new Map<string, RoutePlan>();
  /** Aliases, routes and `vendor/model` pins, by the name clients send. */
  readonly names = new Map<string, RoutePlan | typeof BY_TASK>();
  private readonly health = new Map<string, Health>();

  constructor(
    config: Pick<GatewayConfig, "vendors" | "routes"> & { routing: RoutingConfig },
    options: { now: () => number },
  ) {
    const routing = config.routing;
    const breakerSettings = breakerSettingsOf(routing);
    const vendors = new Map(config.vendors.map((vendor) => [vendor.id, attributesOf(vendor)]));
    const healthOf = (target: RouteTarget): Health => {
      const key = `${target.vendor}/${target.model}`;
      let health = this.health.get(key);
      if (!health) {
        health = {
          breaker: new CircuitBreaker(breakerSettings, options.now),
          latency: new LatencyTracker(routing.latency_ewma_alpha),
        };
        this.health.set(key, health);
      }
      return health;
    };
    const compile = (
      name: string,
      list: {
        policy: RoutingPolicy["name"];
        quality_floor?: string | undefined;
        typical_output_tokens?: number | undefined;
        require?: { zdr?: boolean; data_collection?: "deny"; regions?: string[] } | undefined;
        candidates: CandidateConfig[];
      },
    ): RoutePlan => {
      const candidates = list.candidates.map(
        (entry) =>
          new Candidate(entry, vendors.get(entry.vendor) ?? NO_ATTRIBUTES, healthOf(entry)),
      );
      const require = list.require;
      return {
        name,
        policy: POLICIES[list.policy],
        qualityFloor:
          list.quality_floor === undefined ? null : parseDecimal(list.quality_floor, QUALITY_SCALE),
        typicalOutputTokens: list.typical_output_tokens ?? routing.typical_output_tokens,
        require: require
          ? {
              zdr: require.zdr === true,
              dataCollectionDeny: require.data_collection === "deny",
              regions: require.regions ? new Set(require.regions) : null,
            }
          : null,
        candidates,
        constrained: candidates.some(
          (candidate) =>
            !candidate.tools ||
            candidate.maxInputTokens !== null ||
            candidate.maxOutputTokens !== null,
        ),
        unfiltered: candidates.map((candidate) => ({
          candidate,
          score: null,
          skippedReason: null,
        })),
      };
    };

    for (const [name, task] of Object.entries(routing.tasks))
      this.tasks.set(name, compile(name, task));
    for (const [name, alias] of Object.entries(routing.aliases)) {
      if (alias.by_task) this.names.set(name, BY_TASK);
      else if (alias.task !== undefined)
        this.names.set(name, this.tasks.get(alias.task) as RoutePlan);
      else this.names.set(name, compile(name, { ...alias, candidates: alias.candidates ?? [] }));
    }
    for (const route of config.routes) {
      this.names.set(
        route.model,
        compile(route.model, {
          policy: "fallback",
          candidates: route.fallback.map((target) => ({ ...target, tools: true })),
        }),
      );
    }
    // Every candidate can also be called by its own name, alone, with no fallback.
    const pinned = [...this.tasks.values(), ...this.names.values()];
    for (const plan of pinned) {
      if (plan === BY_TASK) continue;
      for (const candidate of plan.candidates) {
        const pin = `${candidate.vendor}/${candidate.model}`;
        if (this.names.has(pin)) continue;
        this.names.set(
          pin,
          compile(pin, {
            policy: "fallback",
            candidates: [{ vendor: candidate.vendor, model: candidate.model, tools: true }],
          }),
        );
      }
    }
  }

  /** Every plan, for start-up checks (prices). */
  plans(): RoutePlan[] {
    const all = new Set<RoutePlan>(this.tasks.values());
    for (const plan of this.names.values()) if (plan !== BY_TASK) all.add(plan);
    return [...all];
  }
}

const NO_ATTRIBUTES: VendorAttributes = { zdr: false, dataCollection: "allow", region: null };

function attributesOf(vendor: VendorConfig): VendorAttributes {
  return {
    zdr: vendor.zdr === true,
    dataCollection: vendor.data_collection ?? "allow",
    region: vendor.region ?? null,
  };
}

function breakerSettingsOf(routing: RoutingConfig): CircuitBreakerSettings {
  const breaker = routing.circuit_breaker;
  return {
    enabled: breaker.enabled,
    consecutiveFailures: breaker.consecutive_failures,
    errorRatePerMillion: Number(parseDecimal(breaker.error_rate, 6)),
    windowMs: breaker.window_ms,
    minRequests: breaker.min_requests,
    coolDownMs: breaker.cool_down_ms,
    halfOpenProbes: breaker.half_open_probes,
  };
}
