// Starting and stopping the fault tests' child processes (node --import tsx).
import { type ChildProcess, spawn } from "node:child_process";

export interface Child {
  process: ChildProcess;
  /** Everything it printed, stdout and stderr. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line that starts with `prefix`, or rejects if it exits first. */
  line(prefix: string, milliseconds?: number): Promise<string>;
}

export function startChild(
  script: string,
  environment: Record<string, string>,
  scriptArguments: string[] = [],
): Child {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...scriptArguments], {
    env: { ...process.env, ...environment },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    lines.push(...chunk.toString().split("\n"));
    for (const waiter of waiters) waiter();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      for (const waiter of waiters) waiter();
      resolve({ code, signal });
    });
  });
  // A test that fails must not leave its children running.
  process.once("exit", () => child.kill("SIGKILL"));
  return {
    process: child,
    output: () => output,
    exited,
    line(prefix, milliseconds = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no "${prefix}" line within ${milliseconds} ms:\n${output}`));
        }, milliseconds);
        const check = () => {
          const found = lines.find((line) => line.startsWith(prefix));
          if (found !== undefined) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`exited before "${prefix}":\n${output}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** SIGTERM, then SIGKILL if it has not exited within `milliseconds`. */
export async function stopChild(child: Child, milliseconds = 10_000): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), milliseconds);
  await child.exited;
  clearTimeout(timer);
}
