// The redactor every exit of the gateway passes (secret-redactor.ts): whole
// secrets, their escaped forms, secrets cut short by a truncation, and
// secrets split between the pieces of a stream.
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { SwitchboardEvent } from "../events/schemas.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { redactingLogger } from "./logger.ts";
import { REDACTED, redactingSink, SecretRedactor } from "./secret-redactor.ts";

const SECRET = "sk-proj-Zq8vN3xK0pLm7RtY2wB5cH9dF4gJ6sA1eU";
const SLASHED = "Kx/9+Qp2Lm7Rt/Y2wB5cH9dF4gJ6s==";
const redactor = new SecretRedactor([SECRET, SLASHED, undefined, ""]);

/** Every 16-character piece of the secret, the length a cut-short secret is recognised from. */
function assertNoPieceOf(text: string, secret = SECRET): void {
  for (let start = 0; start + 16 <= secret.length; start += 1) {
    expect(text, `piece at ${start}`).not.toContain(secret.slice(start, start + 16));
  }
}

describe("SecretRedactor", () => {
  it("replaces every occurrence of a secret, and leaves text without one as it was", () => {
    const text = `Incorrect API key provided: Bearer ${SECRET}. Headers: {"authorization":"Bearer ${SECRET}"}`;
    expect(redactor.redact(text)).toBe(
      `Incorrect API key provided: Bearer ${REDACTED}. Headers: {"authorization":"Bearer ${REDACTED}"}`,
    );
    const clean = "the vendor said no";
    expect(redactor.redact(clean)).toBe(clean);
  });

  it("finds a secret JSON-escaped, with slashes escaped, and percent-encoded", () => {
    for (const form of [
      JSON.stringify(SLASHED).slice(1, -1),
      SLASHED.replaceAll("/", "\\/"),
      encodeURIComponent(SLASHED),
    ]) {
      const redacted = redactor.redact(`key=${form}&x=1`);
      expect(redacted).toBe(`key=${REDACTED}&x=1`);
    }
  });

  it("redacts a secret cut short at its end or at its front, as truncation leaves it", () => {
    const message = `upstream answered 401: ${"x".repeat(40)} Bearer ${SECRET}`;
    for (let cut = message.length - SECRET.length + 16; cut < message.length; cut += 1) {
      const truncated = message.slice(0, cut);
      assertNoPieceOf(redactor.redact(truncated));
      expect(redactor.redact(truncated)).toContain(REDACTED);
    }
    const frontCut = SECRET.slice(10);
    expect(redactor.redact(`…${frontCut} was refused`)).toBe(`…${REDACTED} was refused`);
  });

  it("leaves a public key prefix alone: an answer about key formats is not mangled", () => {
    const answer = "OpenAI keys look like sk-proj-… and Anthropic's like sk-ant-api03-…";
    expect(redactor.redact(answer)).toBe(answer);
  });

  it("ignores secrets too short to redact without mangling ordinary words", () => {
    const short = new SecretRedactor(["simulator", "k"]);
    expect(short.active).toBe(false);
    expect(short.redact("the simulator answered k")).toBe("the simulator answered k");
  });

  it("redacts strings at any depth, copying only what changed", () => {
    const clean = { a: "x", b: [1, "y", { c: "z" }] };
    expect(redactor.redactValue(clean)).toBe(clean);
    const dirty = { a: "x", b: [1, `k ${SECRET}`, { c: SECRET }], d: null };
    const redacted = redactor.redactValue(dirty);
    expect(redacted).toEqual({ a: "x", b: [1, `k ${REDACTED}`, { c: REDACTED }], d: null });
    expect(dirty.b[1]).toBe(`k ${SECRET}`); // the original is untouched
  });

  it("redacts a stream whatever the boundaries between its pieces", () => {
    const text = `data: {"error":{"message":"bad key Bearer ${SECRET}"}}\n\ndata: [DONE]\n\n`;
    for (let first = 1; first < text.length; first += 1) {
      for (const second of [first + 1, first + 7, first + 23]) {
        const stream = redactor.stream();
        const out =
          stream.push(text.slice(0, first)) +
          stream.push(text.slice(first, second)) +
          stream.push(text.slice(second)) +
          stream.end();
        expect(out).toBe(redactor.redact(text));
      }
    }
  });

  it("holds nothing back of whole SSE frames", () => {
    const stream = redactor.stream();
    const frame = 'data: {"choices":[{"delta":{"content":"sk-"}}]}\n\n';
    expect(stream.push(frame)).toBe(frame);
  });
});

describe("redactingSink", () => {
  it("redacts every published event and appended record, and is the sink itself with no secrets", () => {
    const recording = new RecordingSink();
    const sink = redactingSink(recording, redactor);
    sink.publish({
      event_type: "request_completed",
      request_id: "req_1",
      response_model: `echo ${SECRET}`,
      warnings: [`the vendor said Bearer ${SECRET}`],
    } as unknown as SwitchboardEvent);
    sink.append("switchboard.dead_letter", "t:0:1", JSON.stringify({ payload: SECRET }));
    const written = recording.appended.map((record) => record.value).join("\n");
    expect(written).not.toContain(SECRET);
    expect(written).toContain(REDACTED);
    expect(redactingSink(sink, redactor)).toBe(sink);
    expect(redactingSink(recording, SecretRedactor.none)).toBe(recording);
  });
});

describe("redactingLogger", () => {
  it("redacts every line, child loggers and errors included, and censors credential headers", () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = redactingLogger({ level: "info" }, redactor, destination);
    const child = logger.child({ role: "gateway" });
    child.error(
      { err: new Error(`upstream said ${SECRET}`, { cause: new Error(`Bearer ${SECRET}`) }) },
      "failed",
    );
    child.info({ request: { headers: { authorization: "Bearer client-key-not-known" } } }, "seen");
    logger.warn(`key ${SECRET.slice(0, 30)}`);
    const logged = lines.join("");
    assertNoPieceOf(logged);
    expect(logged).not.toContain("client-key-not-known");
    expect(logged).toContain(REDACTED);
  });
});
