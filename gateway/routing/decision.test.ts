// Every policy, every hard constraint, every OpenRouter `provider` field and
// `models`, through the Router as the gateway builds it from config.
import { describe, expect, it } from "vitest";
import { gatewayConfig } from "../config.ts";
import { PriceCatalog } from "../pricing.ts";
import { Router } from "../routing.ts";
import type { DecisionInput, RouteDecision } from "./decision.ts";
import { parseProvider } from "./provider-preferences.ts";

const config = gatewayConfig.parse({
  price_catalog: "-",
  api_keys: [{ id: "k", tenant: "t", sha256: "0".repeat(64) }],
  vendors: [
    {
      id: "a",
      protocol: "openai",
      base_url: "http://a.test/v1",
      zdr: true,
      data_collection: "deny",
      region: "eu",
    },
    { id: "b", protocol: "openai", base_url: "http://b.test/v1", region: "us" },
    { id: "c", protocol: "openai", base_url: "http://c.test/v1" },
  ],
  routing: {
    tasks: {
      general: {
        candidates: [
          { vendor: "a", model: "m1" },
          { vendor: "b", model: "m1" },
          { vendor: "c", model: "m1" },
        ],
      },
      cheap: {
        policy: "cheapest",
        quality_floor: "0.7",
        candidates: [
          { vendor: "a", model: "m1", quality: 0.9 },
          { vendor: "b", model: "m1", quality: "0.8" },
          { vendor: "c", model: "m1", quality: "0.5" },
        ],
      },
      fast: {
        policy: "lowest_latency",
        candidates: [
          { vendor: "a", model: "m1" },
          { vendor: "b", model: "m1" },
          { vendor: "c", model: "m1" },
        ],
      },
      spread: {
        policy: "weighted",
        candidates: [
          { vendor: "a", model: "m1", weight: 3 },
          { vendor: "b", model: "m1" },
        ],
      },
      constrained: {
        candidates: [
          { vendor: "a", model: "m1", tools: false },
          { vendor: "b", model: "m1", max_output_tokens: 100 },
          { vendor: "c", model: "m1", max_input_tokens: 10 },
        ],
      },
      eu: {
        require: { regions: ["eu"] },
        candidates: [
          { vendor: "a", model: "m1" },
          { vendor: "b", model: "m1" },
        ],
      },
      private: {
        require: { zdr: true, data_collection: "deny" },
        candidates: [
          { vendor: "b", model: "m1" },
          { vendor: "a", model: "m1" },
        ],
      },
    },
    aliases: {
      auto: { by_task: true },
      smart: { task: "general" },
      unpriced: {
        policy: "cheapest",
        typical_output_tokens: 500,
        candidates: [
          { vendor: "c", model: "m2" },
          { vendor: "c", model: "m1" },
        ],
      },
    },
  },
  routes: [
    {
      model: "legacy",
      fallback: [
        { vendor: "c", model: "m1" },
        { vendor: "a", model: "m1" },
      ],
    },
  ],
});

const prices = new PriceCatalog({
  version: "t-1",
  currency: "USD",
  unit: "per_million_tokens",
  prices: [
    { vendor: "a", model: "m1", input: "1", output: "2" },
    { vendor: "b", model: "m1", input: "0.5", output: "1" },
    { vendor: "c", model: "m1", input: "0.1", output: "0.1" },
  ],
});

// c/m2's card ends once the gateway is running (the card in force at start-up
// is all start-up checks): from then on it has no price.
const STARTED = Date.parse("2026-01-01T00:00:00Z");
const lookup = {
  priceOf(target: { vendor: string; model: string }, at?: number) {
    if (target.model === "m2")
      return at === STARTED - 1 ? (prices.priceOf(target, at) ?? ENDED_CARD) : undefined;
    return prices.priceOf(target, at);
  },
};
const ENDED_CARD = { scaled: { input: 1n, output: 1n } };

function router(random: () => number = () => 0.5) {
  return new Router(config, lookup, { now: () => STARTED - 1, random });
}

type Input = Partial<Omit<DecisionInput, "plans" | "prices" | "random">> & {
  model?: string;
  task?: string;
  models?: string[];
};

function decide(input: Input, on: Router = router()): RouteDecision {
  const { model = "auto", task = "general", models, ...rest } = input;
  return on.decide({
    plans: on.plansFor(model, task, models ?? null),
    streamed: false,
    inputTokens: 1000,
    maxOutputTokens: 500,
    hasTools: false,
    provider: null,
    refused: null,
    at: STARTED,
    ...rest,
  });
}

/** vendor/model score skipped_reason, in the order of the event. */
function rows(decision: RouteDecision): string[] {
  return decision.entries.map(
    (entry) =>
      `${entry.candidate.vendor}/${entry.candidate.model} ${entry.score} ${entry.skippedReason}`,
  );
}

describe("policies", () => {
  it("fallback: the list's order, unscored", () => {
    const decision = decide({});
    expect(decision).toMatchObject({ policy: "fallback", scoreBasis: null });
    expect(rows(decision)).toEqual(["a/m1 null null", "b/m1 null null", "c/m1 null null"]);
  });

  it.each([
    // max_tokens 500 and 1000 input tokens: a = 1000×1 + 500×2 per million, b = 1000×0.5 + 500×1
    [500, ["b/m1 0.001 null", "a/m1 0.002 null", "c/m1 null below_quality_floor"]],
    // no max_tokens: the typical output, 256
    [null, ["b/m1 0.000756 null", "a/m1 0.001512 null", "c/m1 null below_quality_floor"]],
  ])(
    "cheapest with max_tokens %s: exact cost scores, the floor skips c",
    (maxOutputTokens, expected) => {
      const decision = decide({ task: "cheap", maxOutputTokens });
      expect(decision).toMatchObject({
        policy: "cheapest",
        scoreBasis: "usd_per_estimated_request",
      });
      expect(rows(decision)).toEqual(expected);
      expect(decision.reason).toContain("at quality >= 0.7");
    },
  );

  it("cheapest: an unpriced candidate goes after the priced ones; the list's typical output counts", () => {
    expect(rows(decide({ model: "unpriced", maxOutputTokens: null }))).toEqual([
      "c/m1 0.00015 null",
      "c/m2 null null",
    ]);
  });

  it.each([
    [false, "ewma_latency_ms", ["c/m1 null null", "b/m1 200.000 null", "a/m1 300.000 null"]],
    [true, "ewma_ttft_ms", ["c/m1 null null", "a/m1 100.000 null", "b/m1 150.000 null"]],
  ])(
    "lowest_latency (streamed %s): unmeasured first, then the lowest average",
    (streamed, basis, expected) => {
      const on = router();
      const plan = on.planFor("auto", "fast");
      plan?.candidates[0]?.health.latency.observe(300, 100, 10);
      plan?.candidates[1]?.health.latency.observe(200, 150, 10);
      const decision = decide({ task: "fast", streamed }, on);
      expect(decision).toMatchObject({ policy: "lowest_latency", scoreBasis: basis });
      expect(rows(decision)).toEqual(expected);
    },
  );

  it("lowest_latency: the moving average weighs the newest by alpha (0.3)", () => {
    const on = router();
    const health = on.planFor("auto", "fast")?.candidates[1]?.health;
    health?.latency.observe(100, null, 0);
    health?.latency.observe(200, null, 0);
    expect(health?.latency.latencyMs).toBeCloseTo(130, 10);
  });

  it.each([
    // weights 3 and 1: a draw in [0, 4); below 3 picks a
    [0, ["a/m1 3 null", "b/m1 1 null"]],
    [0.74, ["a/m1 3 null", "b/m1 1 null"]],
    [0.75, ["b/m1 1 null", "a/m1 3 null"]],
    [0.99, ["b/m1 1 null", "a/m1 3 null"]],
  ])("weighted with draw %d", (draw, expected) => {
    const decision = decide(
      { task: "spread" },
      router(() => draw),
    );
    expect(decision).toMatchObject({ policy: "weighted", scoreBasis: "weight" });
    expect(rows(decision)).toEqual(expected);
  });
});

describe("hard constraints", () => {
  it.each([
    [
      "tools on a candidate without tools",
      { task: "constrained", hasTools: true },
      "a/m1 null tools_unsupported",
    ],
    [
      "max_tokens over a candidate's limit",
      { task: "constrained", maxOutputTokens: 101 },
      "b/m1 null max_tokens_over_candidate_limit",
    ],
    [
      "input over a candidate's limit",
      { task: "constrained", inputTokens: 11 },
      "c/m1 null input_over_candidate_limit",
    ],
    ["a list's region requirement", { task: "eu" }, "b/m1 null vendor_region_not_allowed"],
    ["a list's zdr requirement", { task: "private" }, "b/m1 null vendor_not_zdr"],
  ] as const)("%s", (_name, input, skipped) => {
    const decision = decide({ maxOutputTokens: null, inputTokens: 5, ...input });
    expect(rows(decision)).toContain(skipped);
    expect(
      decision.attempts.map((candidate) => `${candidate.vendor}/${candidate.model}`),
    ).not.toContain(skipped.split(" ")[0]);
  });

  it("an open circuit skips the candidate with circuit_open", () => {
    const on = router();
    const breaker = on.planFor("auto", "general")?.candidates[0]?.health.breaker;
    for (let failure = 0; failure < 5; failure += 1) breaker?.recordFailure();
    expect(rows(decide({}, on))).toEqual([
      "b/m1 null null",
      "c/m1 null null",
      "a/m1 null circuit_open",
    ]);
  });

  it("refusals from outside routing (no embeddings API, unpriced) are listed with their reason", () => {
    const on = router();
    const first = on.planFor("auto", "general")?.candidates[0];
    const decision = decide(
      { refused: new Map(first ? [[first, "protocol x has no embeddings API"]] : []) },
      on,
    );
    expect(rows(decision).at(-1)).toBe("a/m1 null protocol x has no embeddings API");
  });
});

describe("OpenRouter provider preferences", () => {
  it.each([
    ["order", { order: ["c", "b"] }, ["c/m1 null null", "b/m1 null null", "a/m1 null null"]],
    [
      "order without fallbacks",
      { order: ["c"], allow_fallbacks: false },
      ["c/m1 null null", "a/m1 null not_in_provider_order", "b/m1 null not_in_provider_order"],
    ],
    [
      "allow_fallbacks false alone",
      { allow_fallbacks: false },
      ["a/m1 null null", "b/m1 null fallbacks_disallowed", "c/m1 null fallbacks_disallowed"],
    ],
    [
      "only",
      { only: ["b"] },
      ["b/m1 null null", "a/m1 null provider_not_in_only", "c/m1 null provider_not_in_only"],
    ],
    [
      "ignore",
      { ignore: ["a"] },
      ["b/m1 null null", "c/m1 null null", "a/m1 null provider_ignored"],
    ],
    [
      "zdr",
      { zdr: true },
      ["a/m1 null null", "b/m1 null vendor_not_zdr", "c/m1 null vendor_not_zdr"],
    ],
    [
      "data_collection deny",
      { data_collection: "deny" },
      ["a/m1 null null", "b/m1 null vendor_collects_data", "c/m1 null vendor_collects_data"],
    ],
    [
      "data_collection allow changes nothing",
      { data_collection: "allow" },
      ["a/m1 null null", "b/m1 null null", "c/m1 null null"],
    ],
    [
      "max_price.prompt (USD per million)",
      { max_price: { prompt: 0.5 } },
      ["b/m1 null null", "c/m1 null null", "a/m1 null over_max_price"],
    ],
    [
      "max_price.completion as a decimal string",
      { max_price: { completion: "0.1" } },
      ["c/m1 null null", "a/m1 null over_max_price", "b/m1 null over_max_price"],
    ],
    ["sort price", { sort: "price" }, ["c/m1 0.00015 null", "b/m1 0.001 null", "a/m1 0.002 null"]],
    [
      "sort latency, nothing measured",
      { sort: "latency" },
      ["a/m1 null null", "b/m1 null null", "c/m1 null null"],
    ],
    [
      "sort as an object",
      { sort: { by: "price" } },
      ["c/m1 0.00015 null", "b/m1 0.001 null", "a/m1 0.002 null"],
    ],
    [
      "sort price, then order first",
      { sort: "price", order: ["a"] },
      ["a/m1 0.002 null", "c/m1 0.00015 null", "b/m1 0.001 null"],
    ],
  ] as const)("%s", (_name, provider, expected) => {
    expect(rows(decide({ provider: parseProvider(provider) }))).toEqual(expected);
  });

  it("sort names the policy it stands for and its score basis", () => {
    expect(decide({ provider: parseProvider({ sort: "price" }) })).toMatchObject({
      policy: "cheapest",
      scoreBasis: "usd_per_estimated_request",
    });
    expect(decide({ provider: parseProvider({ sort: "latency" }), streamed: true })).toMatchObject({
      policy: "lowest_latency",
      scoreBasis: "ewma_ttft_ms",
    });
  });

  it("sort throughput: highest output tokens per second first, unmeasured first", () => {
    const on = router();
    const [a, b] = on.planFor("auto", "general")?.candidates ?? [];
    a?.health.latency.observe(1100, 100, 100); // 100 tokens in 1 s
    b?.health.latency.observe(600, 100, 100); // 100 tokens in 0.5 s
    const decision = decide({ provider: parseProvider({ sort: "throughput" }) }, on);
    expect(decision.scoreBasis).toBe("ewma_output_tokens_per_second");
    expect(rows(decision)).toEqual(["c/m1 null null", "b/m1 200.000 null", "a/m1 100.000 null"]);
  });

  it("max_price skips a candidate with no price as price_unknown", () => {
    expect(
      rows(decide({ model: "unpriced", provider: parseProvider({ max_price: { prompt: 1 } }) })),
    ).toEqual(["c/m1 0.00015 null", "c/m2 null price_unknown"]);
  });
});

describe("models and aliases", () => {
  it("models: each further list's candidates after the first's, each vendor-model once", () => {
    const decision = decide({ model: "legacy", models: ["unpriced", "smart"] });
    expect(rows(decision)).toEqual([
      "c/m1 null null",
      "a/m1 null null",
      "c/m2 null null",
      "b/m1 null null",
    ]);
    expect(decision.reason).toContain("then the models fallbacks unpriced, general");
  });

  it("an unknown name in models is a 404 naming it", () => {
    expect(() => decide({ models: ["smart", "nope"] })).toThrow(
      expect.objectContaining({ code: "model_not_found", param: "models[1]" }),
    );
  });

  it.each([
    ["a by-task alias follows the task", "auto", "cheap", "cheapest"],
    ["a by-task alias with an unknown task takes the default task", "auto", "nope", "fallback"],
    ["an alias of a task", "smart", "cheap", "fallback"],
    ["a vendor/model pin", "b/m1", "cheap", "fallback"],
  ])("%s", (_name, model, task, policy) => {
    expect(decide({ model, task }).policy).toBe(policy);
  });

  it("pins call one candidate alone", () => {
    expect(rows(decide({ model: "c/m2" }))).toEqual(["c/m2 null null"]);
  });
});
