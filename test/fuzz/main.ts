// npm run fuzz: every API's fuzz target at scale, one child process per API
// (chDB binds one directory per process), as many at once as there are cores.
// Prints per API the inputs checked, the violating inputs, each broken
// property with its count and its first input shrunk, and exits non-zero on
// any violation.
//
//   FUZZ_RUNS   inputs per API (default 100,000)
//   FUZZ_SEED   the seed every API starts from (default: drawn, and printed)
//   FUZZ_APIS   a comma list of APIs (default: all)
//   FUZZ_JOBS   APIs at once (default: the cores)
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import {
  DEFAULT_FUZZ_RUNS,
  type FuzzReport,
  type FuzzTarget,
  fuzz,
  runsFromEnvironment,
  seedFromEnvironment,
} from "./runner.ts";

// Longest first, so two at a time finish together.
const TARGETS: Record<string, () => Promise<FuzzTarget<unknown>>> = {
  analytics: async () =>
    (await import("./analytics.fuzz.ts")).analyticsTarget as FuzzTarget<unknown>,
  "openai-chat": async () =>
    (await import("./openai-chat.fuzz.ts")).openAIChatTarget as FuzzTarget<unknown>,
  "anthropic-messages": async () =>
    (await import("./anthropic-messages.fuzz.ts")).anthropicMessagesTarget as FuzzTarget<unknown>,
  embeddings: async () =>
    (await import("./embeddings.fuzz.ts")).embeddingsTarget as FuzzTarget<unknown>,
  feedback: async () => (await import("./feedback.fuzz.ts")).feedbackTarget as FuzzTarget<unknown>,
};

const REPORT_PREFIX = "FUZZ-REPORT ";

/** Child: one API, its report on stdout as one line, progress on stderr. */
async function runOne(api: string): Promise<void> {
  const load = TARGETS[api];
  if (!load) throw new Error(`unknown API ${api}; known: ${Object.keys(TARGETS).join(", ")}`);
  const target = await load();
  const started = await target.start();
  const runs = runsFromEnvironment(DEFAULT_FUZZ_RUNS);
  const begun = performance.now();
  try {
    const report = await fuzz(api, started, {
      runs,
      seed: seedFromEnvironment(),
      every: Math.max(1, Math.floor(runs / 10)),
      found: (property, detail) =>
        process.stderr.write(`${api}: ${property} broken: ${detail.slice(0, 500)}\n`),
      progress: (done) =>
        process.stderr.write(
          `${api}: ${done}/${runs} inputs, ${Math.round((performance.now() - begun) / 1000)} s\n`,
        ),
    });
    process.stdout.write(`${REPORT_PREFIX}${JSON.stringify(report)}\n`);
  } finally {
    await started.stop();
  }
}

function runChild(
  api: string,
  seed: number,
): Promise<FuzzReport | { api: string; failed: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(import.meta.url), api],
      {
        env: { ...process.env, FUZZ_SEED: String(seed) },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.on("close", (code, signal) => {
      const line = output.split("\n").find((each) => each.startsWith(REPORT_PREFIX));
      if (line) resolve(JSON.parse(line.slice(REPORT_PREFIX.length)) as FuzzReport);
      else resolve({ api, failed: `exited ${code ?? signal} without a report` });
    });
  });
}

function printReports(
  reports: (FuzzReport | { api: string; failed: string })[],
  seed: number,
  totalMs: number,
) {
  const lines = [
    `seed ${seed}, ${Math.round(totalMs / 1000)} s in all`,
    "",
    "| API | inputs | violating inputs | duration |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const report of reports) {
    if ("failed" in report) lines.push(`| ${report.api} | — | ${report.failed} | — |`);
    else {
      lines.push(
        `| ${report.api} | ${report.inputs} | ${report.violatingInputs} | ${Math.round(report.durationMs / 1000)} s |`,
      );
    }
  }
  for (const report of reports) {
    if ("failed" in report) continue;
    lines.push("", `${report.api}: ${JSON.stringify(report.stats)}`);
    for (const property of report.properties) {
      lines.push(
        `  VIOLATION ${property.property}: ${property.inputs} input(s)`,
        `    first: ${property.detail}`,
        ...(property.shrunkDetail ? [`    shrunk: ${property.shrunkDetail}`] : []),
        `    input: ${property.counterexample}`,
        `    replay: FUZZ_SEED=${report.seed} FUZZ_PATH=${property.path} FUZZ_RUNS=1 UNIT_ONLY=1 npx vitest run test/fuzz/${report.api}.test.ts`,
      );
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
  const [api] = process.argv.slice(2);
  if (api) {
    await runOne(api);
    // The report is out: a socket or timer an app left behind must not keep the child alive.
    process.exit(0);
  }
  const seed = seedFromEnvironment();
  const apis = (process.env.FUZZ_APIS ?? Object.keys(TARGETS).join(","))
    .split(",")
    .map((each) => each.trim())
    .filter(Boolean);
  const jobs = Number(process.env.FUZZ_JOBS ?? availableParallelism());
  const started = performance.now();
  const reports: (FuzzReport | { api: string; failed: string })[] = [];
  const queue = [...apis];
  await Promise.all(
    Array.from({ length: Math.max(1, jobs) }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        reports.push(await runChild(next, seed));
      }
    }),
  );
  reports.sort((a, b) => apis.indexOf(a.api) - apis.indexOf(b.api));
  printReports(reports, seed, performance.now() - started);
  const violated = reports.some((report) => "failed" in report || report.violatingInputs > 0);
  process.exitCode = violated ? 1 : 0;
}

await main();
