// A request's task class, and where it came from (route_decided's
// task_source): the x-switchboard-task header, else `metadata.task` in the
// body, else the first operator rule that matches (path, model asked, tools
// present, response_format), else the default.
import type { TASK_SOURCES } from "../../events/schemas.ts";
import { GatewayError } from "../errors.ts";
import { TASK_NAME_PATTERN, type TaskRuleConfig } from "./routing-config.ts";

export type TaskSource = (typeof TASK_SOURCES)[number];

export interface TaskSignals {
  /** The raw x-switchboard-task header. */
  header: string | string[] | undefined;
  /** `metadata.task` of the body, when the body has one. */
  metadataTask: unknown;
  path: string;
  model: string;
  hasTools: boolean;
  /** `response_format.type`, when the request sets one. */
  responseFormat: string | undefined;
}

export interface ResolvedTask {
  task: string;
  source: TaskSource;
}

interface CompiledRule {
  resolved: ResolvedTask;
  path: string | undefined;
  models: ReadonlySet<string> | undefined;
  tools: boolean | undefined;
  responseFormat: string | undefined;
}

export class TaskClassifier {
  private readonly rules: readonly CompiledRule[];
  private readonly byDefault: ResolvedTask;

  constructor(rules: readonly TaskRuleConfig[], defaultTask: string) {
    this.rules = rules.map((rule) => ({
      resolved: { task: rule.task, source: "rule" as const },
      path: rule.when.path,
      models:
        rule.when.model === undefined
          ? undefined
          : new Set(typeof rule.when.model === "string" ? [rule.when.model] : rule.when.model),
      tools: rule.when.tools,
      responseFormat: rule.when.response_format,
    }));
    this.byDefault = { task: defaultTask, source: "default" };
  }

  resolve(signals: TaskSignals): ResolvedTask {
    if (signals.header !== undefined) {
      const task = Array.isArray(signals.header) ? signals.header[0] : signals.header;
      return { task: checked(task, "x-switchboard-task"), source: "header" };
    }
    if (signals.metadataTask !== undefined && signals.metadataTask !== null) {
      return { task: checked(signals.metadataTask, "metadata.task"), source: "metadata" };
    }
    for (const rule of this.rules) {
      if (matches(rule, signals)) return rule.resolved;
    }
    return this.byDefault;
  }
}

function matches(rule: CompiledRule, signals: TaskSignals): boolean {
  return (
    (rule.path === undefined || rule.path === signals.path) &&
    (rule.models === undefined || rule.models.has(signals.model)) &&
    (rule.tools === undefined || rule.tools === signals.hasTools) &&
    (rule.responseFormat === undefined || rule.responseFormat === signals.responseFormat)
  );
}

function checked(task: unknown, param: string): string {
  if (typeof task !== "string" || !TASK_NAME_PATTERN.test(task)) {
    throw new GatewayError(
      "invalid_request",
      `${param} must be 1-64 lowercase letters, digits, '.', '_' or '-'.`,
      { param },
    );
  }
  return task;
}
