// The `gateway.routing` section: task classes with a policy and candidates,
// the model aliases clients call, rules that find a request's task class, and
// the failure handling (retries, circuit breakers). Validated once at
// start-up by gatewayConfig (config.ts), which also checks every vendor named.
import { z } from "zod";
import { DECIMAL_STRING_PATTERN } from "../../events/money.ts";

export const ROUTING_POLICY_NAMES = ["fallback", "cheapest", "lowest_latency", "weighted"] as const;
export type RoutingPolicyName = (typeof ROUTING_POLICY_NAMES)[number];

export const TASK_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const taskName = z
  .string()
  .regex(TASK_NAME_PATTERN, "1-64 lowercase letters, digits, '.', '_' or '-'");
const vendorId = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "lowercase letters, digits, . _ -");

/** A score between 0 and 1, written as a number or a decimal string; kept as the exact text. */
const unitScore = z
  .union([z.number(), z.string()])
  .transform((value) => (typeof value === "number" ? String(value) : value))
  .refine((text) => DECIMAL_STRING_PATTERN.test(text) && Number(text) <= 1, {
    message: 'a decimal between 0 and 1, such as "0.85"',
  })
  .refine((text) => (text.split(".")[1] ?? "").length <= 6, {
    message: "at most 6 decimal places",
  });

export const candidateConfig = z.object({
  vendor: vendorId,
  model: z.string().min(1),
  weight: z
    .number()
    .int()
    .positive()
    .max(1_000_000)
    .optional()
    .describe("weighted policy: share of first picks (default 1)"),
  quality: unitScore
    .optional()
    .describe("0-1, this vendor-model's quality on the task; the cheapest policy's floor reads it"),
  max_input_tokens: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("skip when the request's estimated input is longer"),
  max_output_tokens: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("skip when the request asks for more (max_tokens)"),
  tools: z.boolean().default(true).describe("false: skip requests that carry tools"),
});

const requirements = z
  .object({
    zdr: z.boolean().optional().describe("only vendors with zdr: true"),
    data_collection: z
      .literal("deny")
      .optional()
      .describe("only vendors with data_collection: deny"),
    regions: z.array(z.string().min(1)).min(1).optional().describe("only vendors in these regions"),
  })
  .describe("hard constraints on the vendors' attributes");

/** What a task class and an alias with its own candidates share. */
const candidateList = {
  policy: z.enum(ROUTING_POLICY_NAMES).default("fallback"),
  quality_floor: unitScore
    .optional()
    .describe("cheapest: candidates below it are skipped; every candidate then needs quality"),
  typical_output_tokens: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("cost estimates' output when a request sets no max_tokens"),
  require: requirements.optional(),
  candidates: z.array(candidateConfig).min(1),
};

export const taskClassConfig = z.object(candidateList);

export const aliasConfig = z
  .object({
    task: taskName.optional().describe("this task class's candidates and policy"),
    by_task: z
      .boolean()
      .optional()
      .describe("true: the candidates of the request's own task class"),
    ...candidateList,
    candidates: candidateList.candidates.optional(),
  })
  .superRefine((alias, context) => {
    const forms = [
      alias.task !== undefined,
      alias.by_task === true,
      alias.candidates !== undefined,
    ];
    if (forms.filter(Boolean).length !== 1) {
      context.addIssue({
        code: "custom",
        message: "an alias has exactly one of task, by_task: true, or candidates",
      });
    }
  });

const responseFormatType = z.enum(["text", "json_object", "json_schema"]);

export const taskRuleConfig = z.object({
  task: taskName,
  when: z
    .object({
      path: z.string().startsWith("/").optional().describe("the request path, /v1/messages"),
      model: z
        .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
        .optional()
        .describe("the model the client asked for"),
      tools: z.boolean().optional().describe("whether the request carries tools"),
      response_format: responseFormatType.optional().describe("response_format.type"),
    })
    .refine((when) => Object.values(when).some((value) => value !== undefined), {
      message: "a rule needs at least one condition",
    }),
});

export const retryConfig = z.object({
  max_retries_per_candidate: z.number().int().min(0).max(10).default(0),
  max_attempts: z.number().int().min(1).max(50).default(10),
  base_backoff_ms: z.number().int().min(0).default(100),
  max_backoff_ms: z.number().int().min(0).default(2_000),
  max_retry_after_ms: z
    .number()
    .int()
    .min(0)
    .default(5_000)
    .describe("a vendor's retry-after up to this is waited for; longer moves on"),
  total_budget_ms: z
    .number()
    .int()
    .positive()
    .default(120_000)
    .describe("no retry or new candidate after a request has run this long"),
});

export const circuitBreakerConfig = z.object({
  enabled: z.boolean().default(true),
  consecutive_failures: z.number().int().positive().default(5),
  error_rate: unitScore.default("0.5").describe("failed share of attempts in the window"),
  window_ms: z.number().int().positive().default(30_000),
  min_requests: z
    .number()
    .int()
    .positive()
    .default(20)
    .describe("the error rate counts from this many attempts in the window"),
  cool_down_ms: z.number().int().positive().default(30_000),
  half_open_probes: z.number().int().positive().default(1),
});

export const routingConfig = z
  .object({
    default_task: taskName.default("general"),
    typical_output_tokens: z.number().int().positive().default(256),
    tasks: z.record(taskName, taskClassConfig).default({}),
    aliases: z.record(z.string().min(1), aliasConfig).default({}),
    rules: z.array(taskRuleConfig).default([]),
    retry: retryConfig.prefault({}),
    circuit_breaker: circuitBreakerConfig.prefault({}),
    latency_ewma_alpha: z
      .number()
      .gt(0)
      .max(1)
      .default(0.3)
      .describe("weight of the newest observation in the latency averages"),
  })
  .superRefine((routing, context) => {
    const tasks = Object.keys(routing.tasks);
    const checkTask = (task: string, path: (string | number)[]) => {
      if (!Object.hasOwn(routing.tasks, task)) {
        context.addIssue({
          code: "custom",
          path,
          message: `no task class "${task}" (configured: ${tasks.join(", ") || "none"})`,
        });
      }
    };
    const needsTasks =
      tasks.length > 0 || Object.values(routing.aliases).some((alias) => alias.by_task);
    if (needsTasks) checkTask(routing.default_task, ["default_task"]);
    routing.rules.forEach((rule, index) => {
      if (tasks.length > 0) checkTask(rule.task, ["rules", index, "task"]);
    });
    for (const [name, alias] of Object.entries(routing.aliases)) {
      if (alias.task !== undefined) checkTask(alias.task, ["aliases", name, "task"]);
      if (alias.candidates) checkCandidates(alias, ["aliases", name], context);
    }
    for (const [name, task] of Object.entries(routing.tasks)) {
      checkCandidates(task, ["tasks", name], context);
    }
  });

function checkCandidates(
  list: {
    policy: RoutingPolicyName;
    quality_floor?: string | undefined;
    candidates?: z.infer<typeof candidateConfig>[] | undefined;
  },
  path: (string | number)[],
  context: z.RefinementCtx,
): void {
  if (list.quality_floor !== undefined && list.policy !== "cheapest") {
    context.addIssue({
      code: "custom",
      path: [...path, "quality_floor"],
      message: "quality_floor is read by the cheapest policy only",
    });
  }
  list.candidates?.forEach((candidate, index) => {
    if (list.quality_floor !== undefined && candidate.quality === undefined) {
      context.addIssue({
        code: "custom",
        path: [...path, "candidates", index, "quality"],
        message: "required: the list has a quality_floor",
      });
    }
  });
}

export type CandidateConfig = z.infer<typeof candidateConfig>;
export type RoutingConfig = z.infer<typeof routingConfig>;
export type TaskRuleConfig = z.infer<typeof taskRuleConfig>;

/** Every vendor a candidate names is configured; no alias shadows a route. */
export function checkRoutingNames(
  routing: RoutingConfig,
  routes: readonly { model: string }[],
  vendorIds: ReadonlySet<string>,
  context: z.RefinementCtx,
): void {
  const lists: [(string | number)[], CandidateConfig[] | undefined][] = [
    ...Object.entries(routing.tasks).map(
      ([name, task]): [(string | number)[], CandidateConfig[]] => [
        ["routing", "tasks", name],
        task.candidates,
      ],
    ),
    ...Object.entries(routing.aliases).map(
      ([name, alias]): [(string | number)[], CandidateConfig[] | undefined] => [
        ["routing", "aliases", name],
        alias.candidates,
      ],
    ),
  ];
  for (const [path, candidates] of lists) {
    candidates?.forEach((candidate, index) => {
      if (!vendorIds.has(candidate.vendor)) {
        context.addIssue({
          code: "custom",
          path: [...path, "candidates", index, "vendor"],
          message: `unknown vendor "${candidate.vendor}"`,
        });
      }
    });
  }
  routes.forEach((route, index) => {
    if (Object.hasOwn(routing.aliases, route.model)) {
      context.addIssue({
        code: "custom",
        path: ["routes", index, "model"],
        message: `"${route.model}" is also an alias in routing.aliases`,
      });
    }
  });
}
