import { describe, expect, it } from "vitest";
import { gatewayConfig } from "../config.ts";

const base = {
  price_catalog: "prices.yaml",
  api_keys: [{ id: "k", tenant: "t", sha256: "0".repeat(64) }],
  vendors: [{ id: "v", protocol: "openai" }],
};

function issuesOf(config: Record<string, unknown>): string {
  const parsed = gatewayConfig.safeParse({ ...base, ...config });
  return parsed.success
    ? ""
    : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("\n");
}

const candidates = [{ vendor: "v", model: "m" }];

describe("routing config validation names the field", () => {
  it.each([
    [
      { routing: { tasks: { general: { candidates: [{ vendor: "nobody", model: "m" }] } } } },
      'routing.tasks.general.candidates.0.vendor: unknown vendor "nobody"',
    ],
    [
      { routing: { tasks: { general: { policy: "fastest", candidates } } } },
      "routing.tasks.general.policy:",
    ],
    [{ routing: { tasks: { general: { candidates: [] } } } }, "routing.tasks.general.candidates:"],
    [{ routing: { tasks: { "Bad Name": { candidates } } } }, "routing.tasks.Bad Name:"],
    [
      { routing: { tasks: { general: { policy: "cheapest", quality_floor: "0.8", candidates } } } },
      "routing.tasks.general.candidates.0.quality: required: the list has a quality_floor",
    ],
    [
      { routing: { tasks: { general: { quality_floor: "0.8", candidates } } } },
      "routing.tasks.general.quality_floor: quality_floor is read by the cheapest policy only",
    ],
    [
      {
        routing: {
          tasks: { general: { candidates: [{ vendor: "v", model: "m", quality: 1.5 }] } },
        },
      },
      "routing.tasks.general.candidates.0.quality:",
    ],
    [
      {
        routing: { tasks: { general: { candidates: [{ vendor: "v", model: "m", weight: 0.5 }] } } },
      },
      "routing.tasks.general.candidates.0.weight:",
    ],
    [
      { routing: { tasks: { code: { candidates } } } },
      'routing.default_task: no task class "general"',
    ],
    [
      {
        routing: {
          tasks: { general: { candidates } },
          rules: [{ task: "code", when: { tools: true } }],
        },
      },
      'routing.rules.0.task: no task class "code"',
    ],
    [
      { routing: { tasks: { general: { candidates } }, rules: [{ task: "general", when: {} }] } },
      "routing.rules.0.when: a rule needs at least one condition",
    ],
    [
      { routing: { tasks: { general: { candidates } }, aliases: { fast: { task: "code" } } } },
      'routing.aliases.fast.task: no task class "code"',
    ],
    [
      { routing: { aliases: { fast: { task: "general", candidates } } } },
      "routing.aliases.fast: an alias has exactly one of task, by_task: true, or candidates",
    ],
    [
      { routing: { aliases: { fast: { candidates: [{ vendor: "x", model: "m" }] } } } },
      'routing.aliases.fast.candidates.0.vendor: unknown vendor "x"',
    ],
    [
      {
        routing: { aliases: { fast: { candidates } } },
        routes: [{ model: "fast", fallback: candidates }],
      },
      'routes.0.model: "fast" is also an alias',
    ],
    [
      { routing: { retry: { max_retries_per_candidate: -1 } } },
      "routing.retry.max_retries_per_candidate:",
    ],
    [{ routing: { circuit_breaker: { error_rate: "2" } } }, "routing.circuit_breaker.error_rate:"],
    [
      { vendors: [{ id: "v", protocol: "openai", data_collection: "sometimes" }] },
      "vendors.0.data_collection:",
    ],
  ])("%j", (config, expected) => {
    expect(issuesOf(config)).toContain(expected);
  });

  it("defaults keep the older routes-only config working", () => {
    const config = gatewayConfig.parse({
      ...base,
      routes: [{ model: "fast", fallback: candidates }],
    });
    expect(config.routing).toMatchObject({
      default_task: "general",
      tasks: {},
      aliases: {},
      retry: { max_retries_per_candidate: 0, max_attempts: 10 },
      circuit_breaker: { enabled: true, consecutive_failures: 5, error_rate: "0.5" },
    });
  });
});
