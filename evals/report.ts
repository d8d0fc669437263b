// The runner's summary as a plain-text table, one row per candidate.
import type { CandidateSummary, EvalReport } from "./runner.ts";

/** Columns: candidate, cases, passed, pass rate, each grader's mean, errors, cost, latency. */
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
  const rows = report.candidates.map((each) => rowOf(each, metrics));
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] as string).length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === 0
          ? cell.padEnd(widths[column] as number)
          : cell.padStart(widths[column] as number),
      )
      .join("  ")
      .trimEnd();
  const lines = [
    `gold set ${report.goldSet.name} version ${report.goldSet.version}`,
    line(header),
    ...rows.map(line),
    `scores posted to /v1/feedback: ${report.feedback.posted}${report.feedback.failed ? `, failed: ${report.feedback.failed}` : ""}; judge calls: ${report.judge.calls}, cost_usd ${report.judge.costUsd}`,
  ];
  return `${lines.join("\n")}\n`;
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
