// `switchboard eval --gold cases.jsonl --candidates vendor/model,… [options]`:
// reads the gold set, runs it (runner.ts) with a progress bar on stderr, and
// prints the table (or the whole report as JSON with --json) on stdout.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { parseGoldSet } from "./gold-set.ts";
import { renderReport } from "./report.ts";
import { type EvalReport, runEval } from "./runner.ts";

export const EVAL_USAGE = `usage: switchboard eval --gold <cases.jsonl> --candidates <vendor/model,…> [options]
  --gold FILE          the gold set: one JSON case per line (docs/quality.md, "Eval")
  --candidates LIST    comma-separated models to pin, e.g. sim-alpha/sim-small,sim-beta/sim-small
  --task T             x-switchboard-task for cases without their own task
  --judge MODEL        the judge model for judge graders that name none
  --judge-task T       x-switchboard-task of the judge's calls (default eval-judge)
  --gateway URL        the gateway (default $SWITCHBOARD_GATEWAY_URL or http://127.0.0.1:8080)
  --key KEY            a gateway API key (default $SWITCHBOARD_API_KEY or the demo key)
  --name N             the gold set's name (default the file's base name)
  --version V          its version (default the first 12 hex digits of the file's SHA-256)
  --concurrency N      calls in flight (default 4)
  --timeout-ms N       per gateway call (default 120000)
  --json               print the whole report as JSON instead of the table
  --no-progress        no progress bar`;

const DEMO_KEY = "sk-switchboard-demo";

/** Runs the command; resolves to the process exit code (1 when a case failed to answer). */
export async function evalCommand(
  argv: string[],
  output: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream } = process,
  environment: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      gold: { type: "string" },
      candidates: { type: "string" },
      task: { type: "string" },
      judge: { type: "string" },
      "judge-task": { type: "string" },
      gateway: { type: "string" },
      key: { type: "string" },
      name: { type: "string" },
      version: { type: "string" },
      concurrency: { type: "string" },
      "timeout-ms": { type: "string" },
      json: { type: "boolean", default: false },
      "no-progress": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    output.stdout.write(`${EVAL_USAGE}\n`);
    return 0;
  }
  if (!values.gold || !values.candidates)
    throw new Error(`--gold and --candidates are required\n${EVAL_USAGE}`);
  const candidates = values.candidates
    .split(",")
    .map((each) => each.trim())
    .filter(Boolean);
  const goldSet = parseGoldSet(readFileSync(values.gold, "utf8"), {
    path: values.gold,
    name: values.name,
    version: values.version,
  });
  const bar =
    values["no-progress"] || values.json
      ? null
      : new cliProgress.SingleBar(
          {
            format: "eval [{bar}] {value}/{total} answers graded | {duration_formatted}",
            stream: output.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
  let report: EvalReport;
  try {
    report = await runEval({
      goldSet,
      candidates,
      gatewayUrl: values.gateway ?? environment.SWITCHBOARD_GATEWAY_URL ?? "http://127.0.0.1:8080",
      apiKey: values.key ?? environment.SWITCHBOARD_API_KEY ?? DEMO_KEY,
      task: values.task,
      judge: values.judge,
      judgeTask: values["judge-task"],
      concurrency: positive(values.concurrency, "--concurrency"),
      timeoutMs: positive(values["timeout-ms"], "--timeout-ms"),
      onProgress: (done, total) => {
        if (!bar) return;
        if (done === 0) bar.start(total, 0);
        else bar.update(done);
      },
    });
  } finally {
    bar?.stop();
  }
  output.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  return report.candidates.every((each) => each.answered === each.cases) ? 0 : 1;
}

function positive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} takes a whole number ≥ 1, not ${text}`);
  return value;
}
