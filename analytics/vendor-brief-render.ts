// The vendor brief as Markdown, CSV and a printable HTML page, all from the
// JSON form (vendor-brief.ts), so the four never disagree.
import { toCsv } from "./csv-injection.ts";
import type { VendorBrief } from "./vendor-brief.ts";

type Task = VendorBrief["tasks"][number];

const percent = (share: string | number | null | undefined) =>
  share === null || share === undefined ? "—" : `${(Number(share) * 100).toFixed(1)}%`;
const orDash = (value: unknown) => (value === null || value === undefined ? "—" : String(value));

function alternativeLabel(task: Task): string {
  const best = task.best_alternative;
  return best ? `${best.vendor}/${best.model}` : "none";
}

const TASK_COLUMNS: [string, (task: Task) => unknown][] = [
  ["task", (task) => task.task],
  ["model", (task) => task.model],
  ["requests", (task) => task.requests],
  ["cost_usd", (task) => task.cost_usd],
  ["cost_per_success_usd", (task) => task.cost_per_success_usd],
  ["success_rate", (task) => task.success_rate],
  ["latency_ms_p95", (task) => task.latency_ms_p95],
  ["best_alternative", alternativeLabel],
  ["alternative_cost_per_success_usd", (task) => task.best_alternative?.cost_per_success_usd],
  ["alternative_success_rate", (task) => task.best_alternative?.success_rate],
  ["routable", (task) => task.routable],
  ["savings_at_stake_usd", (task) => task.savings_at_stake_usd],
];

/** The per-task table, one row per task and model, with its best alternative; text cells neutralised (csv-injection.ts). */
export function briefToCsv(brief: VendorBrief): string {
  const header = ["vendor", ...TASK_COLUMNS.map(([name]) => name)];
  const rows = brief.tasks.map((task) => [
    brief.vendor,
    ...TASK_COLUMNS.map(([, read]) => read(task)),
  ]);
  return toCsv([header, ...rows]);
}

export function briefToMarkdown(brief: VendorBrief): string {
  const lines = [
    `# ${brief.vendor}: vendor brief`,
    "",
    `${brief.from} to ${brief.to}. Spend $${brief.spend_usd} over ${brief.requests} requests; routable ${percent(brief.routable_share_of_spend)} of it, locked ${percent(brief.locked_share_of_spend)}; savings at stake $${brief.savings_at_stake_usd}.`,
    "",
    "## Spend over time",
    "",
    "| day | requests | spend (USD) | share of all spend |",
    "| --- | --- | --- | --- |",
    ...brief.spend_over_time.map(
      (day) =>
        `| ${day.day.slice(0, 10)} | ${day.requests} | ${day.spend_usd} | ${percent(day.share_of_spend)} |`,
    ),
    "",
    "## Tasks, beside the best alternative",
    "",
    "| task | model | requests | cost per success | success | best alternative | its cost per success | its success | routable | at stake (USD) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...brief.tasks.map(
      (task) =>
        `| ${task.task} | ${task.model} | ${task.requests} | ${orDash(task.cost_per_success_usd)} | ${percent(task.success_rate as number | null)} | ${alternativeLabel(task)} | ${orDash(task.best_alternative?.cost_per_success_usd)} | ${percent(task.best_alternative?.success_rate as number | null)} | ${task.routable ? "yes" : "no"} | ${task.savings_at_stake_usd} |`,
    ),
    "",
    "## Service levels",
    "",
    "| scope | objective | target | target from | observed | met |",
    "| --- | --- | --- | --- | --- | --- |",
    ...brief.slo.map(
      (objective) =>
        `| ${sloScope(objective)} | ${objective.objective} | ${objective.target} | ${objective.target_source} | ${orDash(objective.observed)} | ${objective.met === null ? "no data" : objective.met ? "yes" : "no"} |`,
    ),
    "",
    "## Failover incidents",
    "",
    brief.failover_incidents.length === 0
      ? "None in the period."
      : [
          "| hour | failed attempts | error classes |",
          "| --- | --- | --- |",
          ...brief.failover_incidents.map(
            (incident) =>
              `| ${incident.hour} | ${incident.failed_attempts} | ${incident.error_classes.join(", ")} |`,
          ),
        ].join("\n"),
    "",
    "## Method",
    "",
    ...Object.entries(brief.method).map(([name, text]) => `- ${name}: ${text}`),
    "",
  ];
  return lines.join("\n");
}

/** "vendor", or the model and task a target is set for. */
function sloScope(objective: { model: string | null; task: string | null }): string {
  const parts = [
    objective.model ? `model ${objective.model}` : "",
    objective.task ? `task ${objective.task}` : "",
  ].filter((part) => part !== "");
  return parts.length === 0 ? "vendor" : parts.join(", ");
}

function escapeHtml(text: unknown): string {
  return String(text ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** Spend per day as an inline SVG bar chart: no script, so it prints as it shows. */
function spendChart(brief: VendorBrief): string {
  const days = brief.spend_over_time;
  const width = 720;
  const height = 200;
  const largest = Math.max(...days.map((day) => Number(day.spend_usd)), 0);
  const barWidth = days.length > 0 ? width / days.length : width;
  const bars = days
    .map((day, index) => {
      const barHeight = largest > 0 ? (Number(day.spend_usd) / largest) * (height - 20) : 0;
      return `<rect class="bar" x="${(index * barWidth + 1).toFixed(1)}" y="${(height - barHeight).toFixed(1)}" width="${Math.max(1, barWidth - 2).toFixed(1)}" height="${barHeight.toFixed(1)}"><title>${escapeHtml(day.day.slice(0, 10))}: $${escapeHtml(day.spend_usd)} (${percent(day.share_of_spend)} of all spend)</title></rect>`;
    })
    .join("");
  return `<svg id="spend-chart" role="img" aria-label="spend per day" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">${bars}</svg>`;
}

function table(headers: string[], rows: unknown[][]): string {
  return `<table><thead><tr>${headers.map((header) => `<th>${escapeHtml(header)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

export function briefToHtml(brief: VendorBrief): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(brief.vendor)}: vendor brief</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 1.5rem auto; padding: 0 1rem; color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1.2rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.4rem; text-align: left; }
.figures { display: flex; gap: 2rem; flex-wrap: wrap; }
.figure strong { display: block; font-size: 1.4rem; }
.bar { fill: #3465a4; }
@media print { body { margin: 0; } section { break-inside: avoid; } }
</style>
</head>
<body>
<h1>${escapeHtml(brief.vendor)}: vendor brief</h1>
<p>${escapeHtml(brief.from)} to ${escapeHtml(brief.to)}</p>
<div class="figures">
<div class="figure" id="spend"><strong>$${escapeHtml(brief.spend_usd)}</strong>spend, ${brief.requests} requests</div>
<div class="figure" id="routable"><strong>${percent(brief.routable_share_of_spend)}</strong>routable (locked ${percent(brief.locked_share_of_spend)})</div>
<div class="figure" id="savings"><strong>$${escapeHtml(brief.savings_at_stake_usd)}</strong>savings at stake</div>
</div>
<section><h2>Spend over time</h2>${spendChart(brief)}</section>
<section><h2>Tasks, beside the best alternative</h2>${table(
    TASK_COLUMNS.map(([name]) => name),
    brief.tasks.map((task) => TASK_COLUMNS.map(([, read]) => read(task))),
  )}</section>
<section><h2>Service levels</h2>${table(
    ["scope", "objective", "target", "target from", "observed", "met"],
    brief.slo.map((objective) => [
      sloScope(objective),
      objective.objective,
      objective.target,
      objective.target_source,
      orDash(objective.observed),
      objective.met === null ? "no data" : objective.met ? "yes" : "no",
    ]),
  )}</section>
<section><h2>Failover incidents</h2>${
    brief.failover_incidents.length === 0
      ? "<p>None in the period.</p>"
      : table(
          ["hour", "failed attempts", "error classes"],
          brief.failover_incidents.map((incident) => [
            incident.hour,
            incident.failed_attempts,
            incident.error_classes.join(", "),
          ]),
        )
  }</section>
<section><h2>Method</h2><ul>${Object.entries(brief.method)
    .map(([name, text]) => `<li><strong>${escapeHtml(name)}</strong>: ${escapeHtml(text)}</li>`)
    .join("")}</ul></section>
</body>
</html>
`;
}
