// Gateway overhead, measured in one run against references: direct calls to
// the simulator, a bare fastify + undici pass-through, the Portkey gateway,
// and Switchboard with routing, pricing and event emission on.
//
//   node --import tsx bench/gateway.ts [seconds per run, default 10]
//
// Rig: the load generator (wrk) and the upstream
// share CPU 0; the server under test gets CPU 1 alone, so its throughput is
// per core. CPU per request is read from /proc, steadier than wall time.
// Every run is bounded by wrk's duration and timeout.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { request } from "undici";

const run = promisify(execFile);
const seconds = Number(process.argv[2] ?? 10);
const benchDirectory = new URL(".", import.meta.url).pathname;
const portkeyStart = join(
  benchDirectory,
  "peers/node_modules/@portkey-ai/gateway/build/start-server.js",
);

const body = JSON.stringify({
  model: "sim-small",
  messages: [
    { role: "system", content: "You are a careful assistant that answers in one short paragraph." },
    {
      role: "user",
      content: `Summarise this text. ${"The quarterly invoice lists usage per model. ".repeat(20)}`,
    },
  ],
});

interface Target {
  name: string;
  url: (port: number) => string;
  headers: Record<string, string>;
  start?: (port: number, upstream: string) => ChildProcess;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function startPinned(cpu: number, args: string[]): ChildProcess {
  return spawn("taskset", ["-c", String(cpu), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NODE_ENV: "production" },
  });
}

async function waitForReady(child: ChildProcess, url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      await request(url, { method: "GET" }).then((response) => response.body.dump());
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (child.exitCode !== null) throw new Error(`${url}: process exited`);
  }
  throw new Error(`${url} did not start`);
}

function cpuSeconds(pid: number): number {
  // utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100/s).
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function serverPid(child: ChildProcess): number {
  // taskset execs the command, so the child's pid is the server's.
  return child.pid ?? 0;
}

interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === "us" ? value / 1000 : match[2] === "ms" ? value : value * 1000;
}

async function wrk(
  url: string,
  headers: Record<string, string>,
  connections: number,
  stream: boolean,
): Promise<WrkResult> {
  const directory = mkdtempSync(join(tmpdir(), "wrk-"));
  const script = join(directory, "post.lua");
  const payload = stream ? JSON.stringify({ ...JSON.parse(body), stream: true }) : body;
  const headerLines = Object.entries({ "content-type": "application/json", ...headers })
    .map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`)
    .join("\n");
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(payload)}\n${headerLines}\n`,
  );
  const { stdout } = await run(
    "taskset",
    [
      "-c",
      "0",
      "wrk",
      "-t1",
      `-c${connections}`,
      `-d${seconds}s`,
      "--timeout",
      "10s",
      "--latency",
      "-s",
      script,
      url,
    ],
    { timeout: (seconds + 30) * 1000 },
  );
  const percentile = (label: string) =>
    toMs(new RegExp(`^\\s*${label}%\\s+(\\S+)`, "m").exec(stdout)?.[1] ?? "");
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    stdout,
  );
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]),
    p50Ms: percentile("50"),
    p99Ms: percentile("99"),
    requests: Number(/(\d+) requests in/.exec(stdout)?.[1]),
    errors:
      non2xx +
      (socketErrors ? socketErrors.slice(1).reduce((sum, value) => sum + Number(value), 0) : 0),
  };
}

/** Median time to the first byte of a streamed answer, one request at a time. */
async function streamedFirstByteMs(
  url: string,
  headers: Record<string, string>,
  count = 1000,
): Promise<number> {
  const payload = JSON.stringify({ ...JSON.parse(body), stream: true });
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    const response = await request(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: payload,
    });
    const iterator = response.body[Symbol.asyncIterator]();
    await iterator.next();
    samples.push(performance.now() - started);
    // Read the rest through the same iterator: once a body is being iterated,
    // undici's dump() never sees its end.
    while (!(await iterator.next()).done) {}
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN;
}

const targets: Target[] = [
  { name: "direct (simulator)", url: () => "", headers: { authorization: "Bearer simulator" } },
  {
    name: "bare fastify + undici",
    url: (port) => `http://127.0.0.1:${port}/v1/chat/completions`,
    headers: { authorization: "Bearer simulator" },
    start: (port, upstream) =>
      startPinned(1, [
        process.execPath,
        "--import",
        "tsx",
        join(benchDirectory, "targets/bare-proxy.ts"),
        String(port),
        upstream,
      ]),
  },
  {
    name: "Switchboard",
    url: (port) => `http://127.0.0.1:${port}/v1/chat/completions`,
    headers: { authorization: "Bearer sk-bench" },
    start: (port, upstream) =>
      startPinned(1, [
        process.execPath,
        "--import",
        "tsx",
        join(benchDirectory, "targets/switchboard.ts"),
        String(port),
        upstream,
      ]),
  },
];
if (existsSync(portkeyStart)) {
  targets.push({
    name: "Portkey 1.15.2",
    url: (port) => `http://127.0.0.1:${port}/v1/chat/completions`,
    headers: {
      authorization: "Bearer simulator",
      "x-portkey-provider": "openai",
      "x-portkey-custom-host": "",
    },
    start: (port) =>
      startPinned(1, [process.execPath, portkeyStart, `--port=${port}`, "--headless"]),
  });
} else {
  console.error("Portkey not installed: cd bench/peers && npm install (then run again)");
}

const simulatorPort = await freePort();
const simulator = startPinned(0, [
  process.execPath,
  "--import",
  "tsx",
  join(benchDirectory, "targets/simulator.ts"),
  String(simulatorPort),
]);
const upstream = `http://127.0.0.1:${simulatorPort}/v1`;
await waitForReady(simulator, `${upstream}/models`);

const rows: string[] = [];
let direct: { p50: number; streamFirstByte: number } | undefined;
for (const target of targets) {
  const port = await freePort();
  const child = target.start?.(port, upstream);
  const url = child ? target.url(port) : `${upstream}/chat/completions`;
  const headers = { ...target.headers };
  if ("x-portkey-custom-host" in headers) headers["x-portkey-custom-host"] = upstream;
  if (child) await waitForReady(child, `http://127.0.0.1:${port}/`);
  await wrk(url, headers, 10, false); // warm-up: JIT and connection pools
  const single = await wrk(url, headers, 1, false);
  const cpuBefore = child ? cpuSeconds(serverPid(child)) : 0;
  const loaded = await wrk(url, headers, 50, false);
  const cpuPerRequestUs = child
    ? ((cpuSeconds(serverPid(child)) - cpuBefore) / loaded.requests) * 1e6
    : Number.NaN;
  const streamedLoad = await wrk(url, headers, 50, true);
  const firstByte = await streamedFirstByteMs(url, headers);
  if (!child) direct = { p50: single.p50Ms, streamFirstByte: firstByte };
  const added = (value: number, reference: number | undefined) =>
    reference === undefined || !child ? "—" : `${(value - reference).toFixed(3)}`;
  rows.push(
    `| ${target.name} | ${loaded.requestsPerSecond.toFixed(0)} | ${streamedLoad.requestsPerSecond.toFixed(0)} | ${single.p50Ms.toFixed(3)} | ${added(single.p50Ms, direct?.p50)} | ${loaded.p99Ms.toFixed(2)} | ${firstByte.toFixed(3)} | ${added(firstByte, direct?.streamFirstByte)} | ${Number.isNaN(cpuPerRequestUs) ? "—" : cpuPerRequestUs.toFixed(0)} | ${loaded.errors + streamedLoad.errors + single.errors} |`,
  );
  console.error(`measured ${target.name}`);
  if (child) {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}
simulator.kill("SIGTERM");

console.log(
  `Gateway overhead, ${seconds} s per run, ${new Date().toISOString()}, node ${process.version}`,
);
console.log(
  "| target | req/s, 50 conn | streamed req/s, 50 conn | p50 ms, 1 conn | added p50 ms | p99 ms, 50 conn | stream first byte p50 ms | added first byte ms | CPU µs/request | errors |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const row of rows) console.log(row);
