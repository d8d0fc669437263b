// `switchboard eval` says in its table why a case failed: a refused key, a
// gateway gone, a judge that gave no score, a grader's own reason. A stub
// gateway on a real port plays each; the runner talks to it over HTTP.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evalCommand } from "./command.ts";

const KEY = "sk-stub-eval";
const CASES = [
  { id: "paris", prompt: "Capital of France?", graders: [{ type: "exact", expected: "Paris" }] },
  {
    id: "judged",
    prompt: "Capital of Japan?",
    graders: [{ type: "judge", rubric: "Full marks for Tokyo." }],
  },
  { id: "lyon", prompt: "Say Lyon.", graders: [{ type: "exact", expected: "Paris" }] },
];

/** How the stub answers a chat call: `down` closes the connection unanswered. */
type Behaviour = "answer" | "down";
let behaviour: Behaviour = "answer";
let server: Server;
let gatewayUrl: string;
let directory: string;
let gold: string;

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = "";
  for await (const chunk of request) text += String(chunk);
  return JSON.parse(text) as Record<string, unknown>;
}

function json(response: ServerResponse, status: number, body: unknown, headers = {}): void {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), "switchboard-eval-"));
  gold = join(directory, "gold.jsonl");
  writeFileSync(gold, CASES.map((each) => JSON.stringify(each)).join("\n"));
  server = createServer(async (request, response) => {
    if (request.url === "/v1/models") {
      json(response, 200, { data: [{ id: "stub/model" }, { id: "stub/judge" }] });
      return;
    }
    if (request.url === "/v1/feedback") {
      json(response, 202, { event_id: "0193-event" });
      return;
    }
    if (behaviour === "down") {
      request.socket.destroy();
      return;
    }
    if (request.headers.authorization !== `Bearer ${KEY}`) {
      json(response, 401, {
        error: { message: "Incorrect API key provided.", code: "invalid_api_key" },
      });
      return;
    }
    const body = await readBody(request);
    const messages = body.messages as { content: string }[];
    const last = messages.at(-1)?.content ?? "";
    // The judge rambles without a score; the candidate answers Paris except when told Lyon.
    const answer =
      body.model === "stub/judge"
        ? "A fine answer, I suppose."
        : last.includes("Say Lyon")
          ? "Lyon"
          : "Paris";
    json(
      response,
      200,
      { choices: [{ message: { role: "assistant", content: answer } }] },
      { "x-request-id": `req_${Math.random()}`, "x-switchboard-cost-usd": "0.000001" },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  gatewayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(directory, { recursive: true, force: true });
});

async function run(options: { key?: string; gateway?: string }) {
  let stdout = "";
  const collect = new Writable({
    write(chunk, _encoding, done) {
      stdout += String(chunk);
      done();
    },
  });
  const argv = [
    ...["--gold", gold, "--candidates", "stub/model", "--judge", "stub/judge", "--no-progress"],
    ...["--gateway", options.gateway ?? gatewayUrl, "--key", options.key ?? KEY],
  ];
  const exitCode = await evalCommand(argv, { stdout: collect, stderr: collect }, {});
  return { exitCode, stdout };
}

/** The "why cases failed" table as {cases, why} rows. */
function whyRows(stdout: string): { cases: string; why: string }[] {
  const lines = stdout.trimEnd().split("\n");
  const start = lines.indexOf("why cases failed");
  if (start < 0) return [];
  const header = lines[start + 1] as string;
  const casesAt = header.indexOf("cases");
  const whyAt = header.indexOf("why");
  return lines.slice(start + 2).map((line) => ({
    cases: line.slice(casesAt, whyAt).trim(),
    why: line.slice(whyAt),
  }));
}

describe("switchboard eval's table says why a case failed", () => {
  it("a grader's reason, and a judge that gave no score", async () => {
    behaviour = "answer";
    const { exitCode, stdout } = await run({});
    expect(exitCode).toBe(0); // every case was answered
    expect(whyRows(stdout)).toEqual([
      {
        cases: "judged",
        why: 'judge_score: the judge gave no score from 1 to 5: "A fine answer, I suppose."',
      },
      { cases: "lyon", why: 'exact_match: answered "Lyon"' },
    ]);
  });

  it("a key the gateway refuses: one row for every case it cost", async () => {
    behaviour = "answer";
    const { exitCode, stdout } = await run({ key: "sk-wrong" });
    expect(exitCode).toBe(1);
    expect(whyRows(stdout)).toEqual([
      {
        cases: "paris, judged, lyon",
        why: "no answer: the gateway refused the key (401 invalid_api_key: Incorrect API key provided.): pass --key or set SWITCHBOARD_API_KEY",
      },
    ]);
  });

  it("a gateway that goes down during the run", async () => {
    behaviour = "down";
    const { exitCode, stdout } = await run({});
    expect(exitCode).toBe(1);
    const [row, ...more] = whyRows(stdout);
    expect(more).toEqual([]);
    expect(row?.cases).toBe("paris, judged, lyon");
    expect(row?.why).toMatch(
      new RegExp(`^no answer: gateway unreachable at ${gatewayUrl} \\(\\w+\\): is it running\\?`),
    );
  });

  it("a gateway that is not there at all stops the run, saying so", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    await expect(run({ gateway: url })).rejects.toThrow(
      `gateway unreachable at ${url} (ECONNREFUSED): is it running? (npx switchboard all, or --gateway URL)`,
    );
  });
});
