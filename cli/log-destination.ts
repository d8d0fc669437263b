// Where the process's log lines go: human lines on a terminal, JSON lines
// (pino's own) anywhere else — a file, a pipe, a container's log collector.
import type { DestinationStream } from "pino";
import pretty from "pino-pretty";

/**
 * pino-pretty when `stream` is a terminal: the time, the level, the role in
 * brackets, the message, and any other fields below it. Synchronous, so a
 * fatal line is written before the process exits. Undefined otherwise: pino
 * writes JSON lines to stdout. Pipe through `cat` for JSON on a terminal.
 */
export function logDestination(
  stream: NodeJS.WriteStream = process.stdout,
): DestinationStream | undefined {
  if (!stream.isTTY) return undefined;
  return pretty({
    destination: stream,
    sync: true,
    colorize: stream.hasColors?.() ?? false,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,role",
    messageFormat: "{if role}[{role}] {end}{msg}",
  });
}
