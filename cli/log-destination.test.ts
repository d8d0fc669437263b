import { PassThrough } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { logDestination } from "./log-destination.ts";

/** A stream that says it is (or is not) a terminal, and keeps what is written. */
function fakeStdout(isTTY: boolean) {
  const stream = new PassThrough() as PassThrough & { isTTY: boolean };
  stream.isTTY = isTTY;
  let written = "";
  stream.on("data", (chunk) => {
    written += String(chunk);
  });
  return { stream: stream as unknown as NodeJS.WriteStream, written: () => written };
}

describe("log lines", () => {
  it("are pino's JSON when stdout is not a terminal", () => {
    expect(logDestination(fakeStdout(false).stream)).toBeUndefined();
  });

  it("are human on a terminal: time, level, [role], message, other fields below", async () => {
    const stdout = fakeStdout(true);
    const destination = logDestination(stdout.stream);
    expect(destination).toBeDefined();
    const logger = pino({ level: "info" }, destination);
    logger.child({ role: "gateway" }).info({ vendors: ["sim-alpha"] }, "gateway listening");
    logger.warn("no role here");
    await new Promise((resolve) => setImmediate(resolve));
    const lines = stdout.written().split("\n");
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[gateway\] gateway listening$/);
    expect(lines[1]).toMatch(/^\s+vendors: \[$/);
    expect(stdout.written()).toMatch(/\] WARN: no role here\n/);
    expect(stdout.written()).not.toMatch(/pid|hostname|"level"/);
  });
});
