// The one usage contract at the adapter boundary. Every token count a vendor
// reports is read through UsageCounters before anything prices, budgets or
// records it: a count is a non-negative safe integer no larger than
// MAX_USAGE_TOKENS, and the parts of a total (cache reads and writes of the
// input, reasoning of the output) are no larger than it. Usage outside the
// contract is never trusted and never dropped: the adapter returns it as a
// rejection naming the vendor's field and value, and the gateway records the
// request with estimated usage and a `usage_rejected` warning
// (../usage-estimate.ts: settleUsage).
import type {
  NeutralStreamEvent,
  NormalizedUsage,
  UsageReading,
  UsageRejection,
} from "../neutral.ts";
import { isRecord } from "./adapter.ts";

/**
 * The most tokens one counter may hold: a hundred times the largest context
 * window any vendor offers today (10 M tokens). A count above it is a vendor's
 * bug, not a bill (a `prompt_tokens` of 1e15 priced at list is a $12.5 billion
 * request). It is far below 2^53, so sums and BigInt conversions stay exact,
 * and below the UInt64 token columns and their rollup sums by ten orders of
 * magnitude.
 */
export const MAX_USAGE_TOKENS = 1_000_000_000;

/**
 * A vendor's usage value as a warning shows it: numbers as JavaScript read
 * them (`1e400` arrives as Infinity), number-like strings quoted, anything
 * else only by its kind, so no text of the vendor's (which could echo a prompt
 * or an answer) reaches an event.
 */
export function renderVendorValue(value: unknown): string {
  if (value === undefined) return "absent";
  if (value === null) return "null";
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "boolean") return String(value);
  if (typeof value === "string") {
    return NUMBER_LIKE.test(value)
      ? JSON.stringify(value)
      : `a string of ${value.length} characters`;
  }
  return Array.isArray(value) ? "an array" : "an object";
}

const NUMBER_LIKE = /^[0-9eE.+\- ]{1,40}$/;

function isCount(value: unknown): value is number {
  return (
    typeof value === "number" && value >= 0 && value <= MAX_USAGE_TOKENS && Number.isInteger(value)
  );
}

/** Why a value is not a count under the contract, or null when it is one. */
export function countViolationOf(value: unknown): string | null {
  if (value === undefined) return "absent";
  if (value === null) return "null";
  if (typeof value !== "number") return `not a number but ${typeof value}`;
  if (!Number.isFinite(value)) return "not finite";
  if (!Number.isInteger(value)) return "not a whole number";
  if (value < 0) return "negative";
  if (value > MAX_USAGE_TOKENS) return `over ${MAX_USAGE_TOKENS}`;
  return null;
}

/**
 * Reads the counters of one vendor usage object against the contract. Each
 * read returns a number either way, so an adapter reads every field it needs
 * and then settles: the first violation met is the rejection.
 */
export class UsageCounters {
  private rejection: UsageRejection | null = null;

  /** `path` is where the object sits in the vendor's answer (`usage`, `usageMetadata`). */
  constructor(
    private readonly usage: Record<string, unknown>,
    private readonly path: string,
  ) {}

  /** A count the vendor always sends with its usage: absent or null breaks the contract. */
  required(...fields: string[]): number {
    return this.read(fields, true);
  }

  /** A count the vendor may leave out or send as null: then it is 0. */
  optional(...fields: string[]): number {
    return this.read(fields, false);
  }

  /** True when the vendor sent the counter, null or not (a nested object left out: false). */
  has(...fields: string[]): boolean {
    let value: unknown = this.usage;
    for (const field of fields) {
      if (!isRecord(value) || !Object.hasOwn(value, field)) return false;
      value = value[field];
    }
    return value !== undefined && value !== null;
  }

  /**
   * The usage if every count read was inside the contract and the neutral
   * totals are too (each at most MAX_USAGE_TOKENS, every part within its
   * whole); else the first violation.
   */
  settle(usage: NormalizedUsage): UsageReading {
    const rejection = this.rejection ?? checkNormalizedUsage(usage);
    return rejection ? { kind: "rejected", rejection } : { kind: "reported", usage };
  }

  private read(fields: string[], required: boolean): number {
    let value: unknown = this.usage;
    for (let depth = 0; depth < fields.length; depth += 1) {
      // A nested object (prompt_tokens_details) that is absent or null holds no counts.
      if (!isRecord(value)) {
        if (value === undefined || value === null) {
          value = undefined;
          break;
        }
        this.reject(this.pathOf(fields.slice(0, depth)), value, "not an object");
        return 0;
      }
      const field = fields[depth] as string;
      value = Object.hasOwn(value, field) ? value[field] : undefined;
    }
    // The common case first: a count inside the contract (-0 read as 0).
    if (isCount(value)) return value + 0;
    if (!required && (value === undefined || value === null)) return 0;
    const violation = countViolationOf(value);
    if (violation !== null) {
      // A nested object left out is reported under the counter's own name.
      this.reject(this.pathOf(fields), value, violation);
    }
    return 0;
  }

  /** Where a field sits in the vendor's answer: built only for a rejection. */
  private pathOf(fields: readonly string[]): string {
    return [this.path, ...fields].join(".");
  }

  private reject(field: string, value: unknown, reason: string): void {
    this.rejection ??= { field, value: renderVendorValue(value), reason };
  }
}

/**
 * The contract on the neutral usage: what the event and the budgets take.
 * Totals built from several vendor counters (Anthropic's input is three) are
 * checked here, named by the event's column.
 */
export function checkNormalizedUsage(usage: NormalizedUsage): UsageRejection | null {
  // The common case first, with no allocation: every count in bounds, every part within its whole.
  if (
    isCount(usage.inputTokens) &&
    isCount(usage.cachedInputTokens) &&
    isCount(usage.cacheWriteInputTokens) &&
    isCount(usage.outputTokens) &&
    isCount(usage.reasoningTokens) &&
    usage.cachedInputTokens + usage.cacheWriteInputTokens <= usage.inputTokens &&
    usage.reasoningTokens <= usage.outputTokens
  ) {
    return null;
  }
  const columns: [string, number][] = [
    ["input_tokens", usage.inputTokens],
    ["cached_input_tokens", usage.cachedInputTokens],
    ["cache_write_input_tokens", usage.cacheWriteInputTokens],
    ["output_tokens", usage.outputTokens],
    ["reasoning_tokens", usage.reasoningTokens],
  ];
  for (const [column, value] of columns) {
    const violation = countViolationOf(value);
    if (violation !== null)
      return { field: column, value: renderVendorValue(value), reason: violation };
  }
  if (usage.cachedInputTokens + usage.cacheWriteInputTokens > usage.inputTokens) {
    return {
      field: "cached_input_tokens",
      value: String(usage.cachedInputTokens + usage.cacheWriteInputTokens),
      reason: `cache reads and writes exceed input_tokens (${usage.inputTokens})`,
    };
  }
  if (usage.reasoningTokens > usage.outputTokens) {
    return {
      field: "reasoning_tokens",
      value: String(usage.reasoningTokens),
      reason: `more than output_tokens (${usage.outputTokens})`,
    };
  }
  return null;
}

/** Reads a vendor's usage value: none (null) when absent or null, else checked counters. */
export function readUsage(
  usage: unknown,
  path: string,
  read: (counters: UsageCounters) => NormalizedUsage,
): UsageReading | null {
  if (usage === undefined || usage === null) return null;
  if (!isRecord(usage)) {
    return {
      kind: "rejected",
      rejection: { field: path, value: renderVendorValue(usage), reason: "not an object" },
    };
  }
  const counters = new UsageCounters(usage, path);
  return counters.settle(read(counters));
}

/** A reading as the stream event that carries it; nothing when the frame had no usage. */
export function pushUsage(events: NeutralStreamEvent[], reading: UsageReading | null): void {
  if (reading === null) return;
  events.push(
    reading.kind === "reported"
      ? { type: "usage", usage: reading.usage }
      : { type: "usage_rejected", rejection: reading.rejection },
  );
}

/** A reading as a whole answer's usage fields (NeutralResponse). */
export function usageFieldsOf(reading: UsageReading | null): {
  usage: NormalizedUsage | null;
  usageRejection: UsageRejection | null;
} {
  if (reading === null) return { usage: null, usageRejection: null };
  return reading.kind === "reported"
    ? { usage: reading.usage, usageRejection: null }
    : { usage: null, usageRejection: reading.rejection };
}
