// The runner's summary as plain-text tables: one row per candidate, then why
// each case that did not pass failed (what --json says per case, in short).
import type { CandidateSummary, CaseResult, EvalReport } from "./runner.ts";

/**
 * Columns: candidate, cases, passed, pass rate, each grader's mean, errors,
 * cost, latency. Then, when a case failed, one row per candidate and reason:
 * the cases it failed, and why (no answer and the gateway's words, a grader's
 * comment, the judge giving no score).
 */
export function renderReport(report: EvalReport): string {
  const metrics = [
    ...new Set(report.candidates.flatMap((each) => each.graders.map((grader) => grader.metric))),
  ];
  const header = [
    "candidate",
    "cases",
    "passed",
    "pass_rate",
    ...metrics,
    "errors",
    "cost_usd",
    "latency_ms_mean",
    "latency_ms_p50",
    "latency_ms_p95",
  ];
  const lines = [
    `gold set ${report.goldSet.name} version ${report.goldSet.version}`,
    ...table(
      header,
      report.candidates.map((each) => rowOf(each, metrics)),
      "numbers",
    ),
    `scores posted to /v1/feedback: ${report.feedback.posted}${report.feedback.failed ? `, failed: ${report.feedback.failed}` : ""}; judge calls: ${report.judge.calls}, cost_usd ${report.judge.costUsd}`,
  ];
  const failures = failureRows(report.results);
  if (failures.length > 0) {
    lines.push("", "why cases failed", ...table(["candidate", "cases", "why"], failures, "text"));
  }
  return `${lines.join("\n")}\n`;
}

/** Aligned columns: the first left-aligned, the rest right-aligned ("numbers") or left ("text"). */
function table(header: string[], rows: string[][], kind: "numbers" | "text"): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0 || kind === "text"
          ? cell.padEnd(widths[column] as number)
          : cell.padStart(widths[column] as number),
      )
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function rowOf(summary: CandidateSummary, metrics: string[]): string[] {
  const grader = (metric: string) => {
    const found = summary.graders.find((each) => each.metric === metric);
    if (!found || found.mean === null) return "-";
    const isShare = found.scale.minimum === 0 && found.scale.maximum === 1;
    return isShare ? found.mean.toFixed(2) : `${trim(found.mean)}/${trim(found.scale.maximum)}`;
  };
  const ms = (value: number | null) => (value === null ? "-" : String(Math.round(value)));
  return [
    summary.candidate,
    String(summary.cases),
    String(summary.passed),
    summary.passRate.toFixed(2),
    ...metrics.map(grader),
    String(summary.cases - summary.answered),
    summary.costUsd,
    ms(summary.latencyMsMean),
    ms(summary.latencyMsP50),
    ms(summary.latencyMsP95),
  ];
}

function trim(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** Case ids a row names before it only counts the rest. */
const CASES_NAMED = 3;

/** Failed cases, one row per candidate and reason, in the order they were run. */
function failureRows(results: CaseResult[]): string[][] {
  const groups = new Map<string, { candidate: string; reason: string; cases: string[] }>();
  for (const result of results) {
    if (result.passed) continue;
    const reason = whyFailed(result);
    const key = JSON.stringify([result.candidate, reason]);
    const group = groups.get(key) ?? { candidate: result.candidate, reason, cases: [] };
    group.cases.push(result.caseId);
    groups.set(key, group);
  }
  return [...groups.values()].map(({ candidate, reason, cases }) => [
    candidate,
    cases.length > CASES_NAMED
      ? `${cases.slice(0, CASES_NAMED).join(", ")} and ${cases.length - CASES_NAMED} more`
      : cases.join(", "),
    reason,
  ]);
}

/** Why one case did not pass: no answer (and why), or each grader that did not pass it. */
export function whyFailed(result: CaseResult): string {
  if (result.error !== null) return `no answer: ${result.error}`;
  const reasons = result.grades
    .filter((each) => each.grade?.passed !== true)
    .map(
      (each) =>
        `${each.metric}: ${each.grade ? (each.grade.comment ?? "failed") : (each.error ?? "not graded")}`,
    );
  return reasons.join("; ") || "not graded";
}
