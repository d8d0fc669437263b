// Service-level targets, set in config (`analytics.slo`) per vendor and
// optionally per model and task, and read by the vendor brief. A target may
// set some objectives only; the others come from the next wider target: the
// vendor's, then `analytics.slo.default`, then the built-in defaults.
import { z } from "zod";

const rate = z.number().min(0).max(1);

/** The three objectives; each optional in config, where a wider target fills it in. */
export const sloObjectives = z
  .object({
    availability: rate.optional().describe("target share of requests that succeed"),
    ttft_p95_ms: z.number().positive().optional().describe("target p95 time to first token, ms"),
    error_rate: rate
      .optional()
      .describe("target share of attempts that fail (failed requests + failed-over attempts)"),
  })
  .strict();
export type SloObjectives = z.infer<typeof sloObjectives>;

export const sloTarget = sloObjectives
  .extend({
    vendor: z.string().min(1).describe("the vendor id, as in the matrix"),
    model: z.string().min(1).optional().describe("only this model of the vendor"),
    task: z.string().min(1).optional().describe("only this task class"),
  })
  .strict();
export type SloTarget = z.infer<typeof sloTarget>;

export const sloConfig = z
  .object({
    default: sloObjectives.prefault({}).describe("targets for a vendor with none of its own"),
    targets: z
      .array(sloTarget)
      .default([])
      .describe("per vendor, or per vendor and model and/or task"),
  })
  .strict()
  .superRefine((config, context) => {
    const seen = new Set<string>();
    config.targets.forEach((target, index) => {
      const scope = JSON.stringify([target.vendor, target.model ?? null, target.task ?? null]);
      if (seen.has(scope)) {
        context.addIssue({
          code: "custom",
          path: ["targets", index],
          message: "a target for this vendor, model and task is already set",
        });
      }
      seen.add(scope);
    });
  });
export type SloConfig = z.infer<typeof sloConfig>;

/** What holds when config says nothing: the brief's long-standing defaults. */
export const BUILT_IN_SLO: Required<SloObjectives> = {
  availability: 0.99,
  ttft_p95_ms: 2000,
  error_rate: 0.02,
};

export const EMPTY_SLO_CONFIG: SloConfig = { default: {}, targets: [] };

export type SloObjective = keyof SloObjectives;
export const SLO_OBJECTIVES: SloObjective[] = ["availability", "ttft_p95_ms", "error_rate"];

/** Where a target came from, so a reader of the brief can find it. */
export type SloTargetSource =
  | "query"
  | "config:vendor"
  | "config:model"
  | "config:task"
  | "config:model+task"
  | "config:default"
  | "built-in";

export interface ResolvedObjective {
  target: number;
  source: SloTargetSource;
}

/** A scope with targets of its own below the vendor: a model, a task, or both. */
export interface SloScope {
  model: string | null;
  task: string | null;
}

function scopeSource(scope: SloScope): SloTargetSource {
  if (scope.model && scope.task) return "config:model+task";
  return scope.model ? "config:model" : "config:task";
}

/**
 * The target of each objective for a vendor (scope null) or one of its
 * scoped targets: the scoped entry, then the vendor's query parameter (the
 * caller's override for this brief), the vendor's entry, the config default,
 * the built-in default.
 */
export function resolveObjectives(
  config: SloConfig,
  vendor: string,
  scope: SloScope | null,
  overrides: SloObjectives,
): Record<SloObjective, ResolvedObjective> {
  const vendorEntry = config.targets.find(
    (target) => target.vendor === vendor && !target.model && !target.task,
  );
  const scopedEntry = scope
    ? config.targets.find(
        (target) =>
          target.vendor === vendor &&
          (target.model ?? null) === scope.model &&
          (target.task ?? null) === scope.task,
      )
    : undefined;
  const resolved = {} as Record<SloObjective, ResolvedObjective>;
  for (const objective of SLO_OBJECTIVES) {
    const layers: [number | undefined, SloTargetSource][] = [
      [scopedEntry?.[objective], scope ? scopeSource(scope) : "config:vendor"],
      [overrides[objective], "query"],
      [vendorEntry?.[objective], "config:vendor"],
      [config.default[objective], "config:default"],
      [BUILT_IN_SLO[objective], "built-in"],
    ];
    const [target, source] = layers.find(([value]) => value !== undefined) as [
      number,
      SloTargetSource,
    ];
    resolved[objective] = { target, source };
  }
  return resolved;
}

/** The scoped targets configured below a vendor, in config order. */
export function scopesOf(config: SloConfig, vendor: string): SloScope[] {
  return config.targets
    .filter((target) => target.vendor === vendor && (target.model || target.task))
    .map((target) => ({ model: target.model ?? null, task: target.task ?? null }));
}
