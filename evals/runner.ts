// The gold-set runner: every case through the gateway pinned to each
// candidate (`model: "vendor/model"`), graded, each grade posted to
// /v1/feedback with source `eval` and the gold set's name and version, so the
// scores become quality_scored events of the very requests graded. Bounded
// concurrency; one summary per candidate at the end (report.ts renders it).
import { formatDecimal, parseDecimal } from "../events/money.ts";
import { type GoldCase, type GoldSet, type GraderSpec, metricOf } from "./gold-set.ts";
import {
  checkSchemaCompiles,
  type Grade,
  gradeJudge,
  gradeLocally,
  judgeMessages,
} from "./graders.ts";

export interface EvalOptions {
  goldSet: GoldSet;
  /** `vendor/model` pins (any model name the gateway routes works too). */
  candidates: string[];
  gatewayUrl: string;
  apiKey: string;
  /** x-switchboard-task of every case without its own `task`; none: the gateway's default. */
  task?: string;
  /** The judge model for judge graders that name none. */
  judge?: string;
  /** x-switchboard-task of the judge's calls, so they stand apart in the ledger. */
  judgeTask?: string;
  /** Calls in flight at once (cases × candidates). */
  concurrency?: number;
  /** Per gateway call. */
  timeoutMs?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface GradeResult {
  metric: string;
  type: GraderSpec["type"];
  /** Null when the grader could not grade (a judge that gave no score, a failed judge call). */
  grade: Grade | null;
  error: string | null;
  /** The quality_scored event id the gateway gave the posted score. */
  eventId: string | null;
}

export interface CaseResult {
  caseId: string;
  candidate: string;
  /** x-request-id of the candidate's answer: the request the scores are about. */
  requestId: string | null;
  answer: string | null;
  /** The gateway's error when the call failed; the case then counts as failed. */
  error: string | null;
  passed: boolean;
  latencyMs: number;
  /** x-switchboard-cost-usd, exact. */
  costUsd: string | null;
  grades: GradeResult[];
}

export interface GraderSummary {
  metric: string;
  scored: number;
  /** Booleans: the share that passed; numbers: the mean score on `scale`. */
  mean: number | null;
  scale: { minimum: number; maximum: number };
}

export interface CandidateSummary {
  candidate: string;
  cases: number;
  answered: number;
  passed: number;
  passRate: number;
  graders: GraderSummary[];
  /** Exact decimal USD of the candidate's answers (the judge's calls apart). */
  costUsd: string;
  latencyMsMean: number | null;
  latencyMsP50: number | null;
  latencyMsP95: number | null;
}

export interface EvalReport {
  goldSet: { name: string; version: string };
  candidates: CandidateSummary[];
  results: CaseResult[];
  judge: { calls: number; costUsd: string };
  feedback: { posted: number; failed: number };
}

const DEFAULT_CONCURRENCY = 4;
const DEFAULT_TIMEOUT_MS = 120_000;

export async function runEval(options: EvalOptions): Promise<EvalReport> {
  const { goldSet, candidates } = options;
  if (candidates.length === 0) throw new Error("no candidates");
  for (const each of goldSet.cases) {
    for (const grader of each.graders) {
      if (grader.type === "json_schema") {
        try {
          checkSchemaCompiles(grader.schema);
        } catch (error) {
          throw new Error(
            `case ${each.id}: its JSON schema does not compile: ${(error as Error).message}`,
          );
        }
      }
      if (grader.type === "judge" && !grader.model && !options.judge) {
        throw new Error(
          `case ${each.id} has a judge grader: name its model or pass --judge vendor/model`,
        );
      }
    }
  }
  const client = new GatewayClient(options);
  await client.checkModels([
    ...candidates,
    ...goldSet.cases.flatMap((each) =>
      each.graders.flatMap((grader) =>
        grader.type === "judge" ? [grader.model ?? (options.judge as string)] : [],
      ),
    ),
  ]);

  const work = candidates.flatMap((candidate) =>
    goldSet.cases.map((each) => ({ candidate, each })),
  );
  const results: CaseResult[] = new Array(work.length);
  const judge = { calls: 0, costScaled: 0n };
  const feedback = { posted: 0, failed: 0 };
  let done = 0;
  let next = 0;
  options.onProgress?.(0, work.length);
  const worker = async () => {
    while (next < work.length) {
      const index = next++;
      const { candidate, each } = work[index] as { candidate: string; each: GoldCase };
      results[index] = await runCase(client, options, candidate, each, judge, feedback);
      done += 1;
      options.onProgress?.(done, work.length);
    }
  };
  const concurrency = Math.max(
    1,
    Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, work.length),
  );
  await Promise.all(Array.from({ length: concurrency }, worker));

  return {
    goldSet: { name: goldSet.name, version: goldSet.version },
    candidates: candidates.map((candidate) =>
      summarize(
        candidate,
        goldSet,
        results.filter((result) => result.candidate === candidate),
      ),
    ),
    results,
    judge: { calls: judge.calls, costUsd: formatDecimal(judge.costScaled) },
    feedback,
  };
}

async function runCase(
  client: GatewayClient,
  options: EvalOptions,
  candidate: string,
  each: GoldCase,
  judge: { calls: number; costScaled: bigint },
  feedback: { posted: number; failed: number },
): Promise<CaseResult> {
  const messages = [
    ...(each.system !== undefined ? [{ role: "system", content: each.system }] : []),
    ...(each.messages ?? [{ role: "user", content: each.prompt as string }]),
  ];
  const body: Record<string, unknown> = { model: candidate, messages };
  if (each.max_tokens !== undefined) body.max_tokens = each.max_tokens;
  if (each.temperature !== undefined) body.temperature = each.temperature;
  if (each.response_format !== undefined) body.response_format = each.response_format;
  const call = await client.chat(body, each.task ?? options.task);
  const result: CaseResult = {
    caseId: each.id,
    candidate,
    requestId: call.requestId,
    answer: call.text,
    error: call.error,
    passed: false,
    latencyMs: call.latencyMs,
    costUsd: call.costUsd,
    grades: [],
  };
  if (call.error !== null || call.text === null) return result;
  const answer = call.text;
  const question = messages.map((message) => message.content).join("\n\n");

  for (const grader of each.graders) {
    const metric = metricOf(grader);
    let grade: Grade | null = null;
    let error: string | null = null;
    if (grader.type === "judge") {
      const judged = await client.chat(
        {
          model: grader.model ?? options.judge,
          messages: judgeMessages(grader, question, answer, each.reference),
          temperature: 0,
        },
        options.judgeTask ?? "eval-judge",
      );
      judge.calls += 1;
      if (judged.costUsd) judge.costScaled += parseDecimal(judged.costUsd);
      if (judged.error !== null || judged.text === null)
        error = `the judge's call failed: ${judged.error}`;
      else {
        const read = gradeJudge(grader, judged.text);
        if ("error" in read) error = read.error;
        else grade = read;
      }
    } else {
      grade = gradeLocally(grader, answer);
    }
    let eventId: string | null = null;
    if (grade && call.requestId) {
      const posted = await client.feedback({
        request_id: call.requestId,
        metric,
        value:
          grade.score.type === "boolean"
            ? grade.score.boolean
            : {
                number: grade.score.number,
                minimum: grade.score.minimum,
                maximum: grade.score.maximum,
              },
        source: "eval",
        gold_set_name: options.goldSet.name,
        gold_set_version: options.goldSet.version,
        comment: `case ${each.id}${grade.comment ? `: ${grade.comment}` : ""}`.slice(0, 2000),
      });
      if (posted.eventId) {
        feedback.posted += 1;
        eventId = posted.eventId;
      } else {
        feedback.failed += 1;
        error = `feedback not recorded: ${posted.error}`;
      }
    }
    result.grades.push({ metric, type: grader.type, grade, error, eventId });
  }
  result.passed = result.grades.every((each) => each.grade?.passed === true);
  return result;
}

function summarize(candidate: string, goldSet: GoldSet, results: CaseResult[]): CandidateSummary {
  const metrics = [...new Set(goldSet.cases.flatMap((each) => each.graders.map(metricOf)))];
  const graders = metrics.map((metric): GraderSummary => {
    const scores = results.flatMap((result) =>
      result.grades
        .filter((each) => each.metric === metric && each.grade)
        .map((each) => (each.grade as Grade).score),
    );
    // Numbers all on one scale stay on it; anything else is put on 0-1 (a boolean is 0 or 1).
    const first = scores[0];
    const oneScale =
      first?.type === "number" &&
      scores.every(
        (score) =>
          score.type === "number" &&
          score.minimum === first.minimum &&
          score.maximum === first.maximum,
      );
    const scale =
      oneScale && first?.type === "number"
        ? { minimum: first.minimum, maximum: first.maximum }
        : { minimum: 0, maximum: 1 };
    const values = scores.map((score) =>
      score.type === "boolean"
        ? Number(score.boolean)
        : oneScale
          ? score.number
          : (score.number - score.minimum) / (score.maximum - score.minimum),
    );
    return { metric, scored: scores.length, mean: values.length ? mean(values) : null, scale };
  });
  const latencies = results.map((result) => result.latencyMs).sort((a, b) => a - b);
  const passed = results.filter((result) => result.passed).length;
  return {
    candidate,
    cases: results.length,
    answered: results.filter((result) => result.error === null).length,
    passed,
    passRate: results.length ? passed / results.length : 0,
    graders,
    costUsd: formatDecimal(
      results.reduce(
        (sum, result) => sum + (result.costUsd ? parseDecimal(result.costUsd) : 0n),
        0n,
      ),
    ),
    latencyMsMean: latencies.length ? mean(latencies) : null,
    latencyMsP50: nearestRank(latencies, 0.5),
    latencyMsP95: nearestRank(latencies, 0.95),
  };
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function nearestRank(sorted: number[], quantile: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(quantile * sorted.length) - 1)] as number;
}

interface ChatCall {
  requestId: string | null;
  text: string | null;
  error: string | null;
  latencyMs: number;
  costUsd: string | null;
}

/** The gateway's OpenAI API and /v1/feedback, over fetch. */
class GatewayClient {
  private readonly base: string;

  constructor(private readonly options: EvalOptions) {
    this.base = options.gatewayUrl.replace(/\/+$/, "").replace(/\/v1$/, "");
  }

  async checkModels(models: string[]): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${this.base}/v1/models`, { signal: this.timeout() });
    } catch (error) {
      throw new Error(this.unreachable(error));
    }
    if (!response.ok) throw new Error(`GET ${this.base}/v1/models answered ${response.status}`);
    const known = new Set(
      ((await response.json()) as { data: { id: string }[] }).data.map((model) => model.id),
    );
    const unknown = [...new Set(models)].filter((model) => !known.has(model));
    if (unknown.length > 0) {
      throw new Error(
        `the gateway routes no model named ${unknown.join(", ")} (see GET /v1/models)`,
      );
    }
  }

  async chat(body: Record<string, unknown>, task: string | undefined): Promise<ChatCall> {
    const startedAt = performance.now();
    try {
      const response = await fetch(`${this.base}/v1/chat/completions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          "content-type": "application/json",
          ...(task ? { "x-switchboard-task": task } : {}),
        },
        body: JSON.stringify(body),
        signal: this.timeout(),
      });
      const payload = (await response.json().catch(() => null)) as {
        choices?: { message?: { content?: string | null } }[];
        error?: { message?: string; code?: string };
      } | null;
      const call: ChatCall = {
        requestId: response.headers.get("x-request-id"),
        text: null,
        error: null,
        latencyMs: Math.round(performance.now() - startedAt),
        costUsd: response.headers.get("x-switchboard-cost-usd"),
      };
      if (!response.ok) {
        call.error = refusal(response.status, payload?.error);
      } else {
        call.text = payload?.choices?.[0]?.message?.content ?? "";
      }
      return call;
    } catch (error) {
      return {
        requestId: null,
        text: null,
        error: this.unreachable(error),
        latencyMs: Math.round(performance.now() - startedAt),
        costUsd: null,
      };
    }
  }

  async feedback(
    body: Record<string, unknown>,
  ): Promise<{ eventId: string | null; error: string | null }> {
    try {
      const response = await fetch(`${this.base}/v1/feedback`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(body),
        signal: this.timeout(),
      });
      const payload = (await response.json().catch(() => null)) as {
        event_id?: string;
        error?: { message?: string };
      } | null;
      if (response.status === 202 && payload?.event_id)
        return { eventId: payload.event_id, error: null };
      return {
        eventId: null,
        error: `${response.status}: ${payload?.error?.message ?? "no body"}`,
      };
    } catch (error) {
      return { eventId: null, error: this.unreachable(error) };
    }
  }

  private timeout(): AbortSignal {
    return AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }

  /** Why a call got no HTTP answer at all: the gateway is down, or too slow. */
  private unreachable(error: unknown): string {
    if (error instanceof Error && error.name === "TimeoutError") {
      return `no answer from the gateway within ${this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms (--timeout-ms)`;
    }
    const cause =
      error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
    const code = typeof cause?.code === "string" ? cause.code : (error as Error).message;
    return `gateway unreachable at ${this.base} (${code}): is it running? (npx switchboard all, or --gateway URL)`;
  }
}

/** A gateway error answer, said in terms of what to do about it. */
function refusal(status: number, error: { message?: string; code?: string } | undefined): string {
  const said = `${status} ${error?.code ?? "error"}: ${error?.message ?? "no error body"}`;
  if (status === 401)
    return `the gateway refused the key (${said}): pass --key or set SWITCHBOARD_API_KEY`;
  return said;
}
