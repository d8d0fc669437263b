// The gateway's own vendor keys must never leave the process, yet a vendor
// may echo the request's `Authorization` header in its error text, and that
// text travels on: into the client's error body or stream, the logs and the
// events. So one redactor, built from the configured secrets at start-up, is
// applied where text leaves: response bodies and headers (gateway/app.ts),
// streams (gateway/stream-relay.ts), log lines (logger.ts), events and dead
// letters (redactingSink below, ingest's dead letters). It lives here because
// the gateway, ingest and the CLI all use it and all import eventlog/.
import type { SwitchboardEvent } from "../events/schemas.ts";
import type { EventSink } from "./ports.ts";

/** What a secret is replaced with: shorter than any secret redacted, so no bounded field outgrows its limit. */
export const REDACTED = "[redacted]";

/**
 * Secrets shorter than this are not redacted: no vendor issues keys this
 * short, and replacing every occurrence of a short word ("simulator", a test
 * key "k") would mangle answers. The CLI warns about each one it skips.
 */
export const MIN_REDACTED_SECRET_LENGTH = 12;

/**
 * A piece of a secret this long is redacted too, wherever it appears with the
 * rest of the secret cut off: messages are truncated (a failure message at
 * 500 characters, a header, a warning), and a truncation can fall inside the
 * key. Long enough to pass the public prefixes (`sk-ant-api03-` is 13
 * characters) so an answer that merely mentions a key's format is untouched;
 * a cut leaves at most 15 characters of a key, most of them that prefix.
 */
const PIECE_LENGTH = 16;

/** One form of one secret, as it may appear in text, and the pieces that find it cut short. */
class SecretForm {
  readonly head: string;
  readonly tail: string;
  /** The characters the form contains: a chunk ending in none of them cannot end inside it. */
  private readonly characters: Set<number>;

  constructor(readonly text: string) {
    const pieceLength = Math.min(PIECE_LENGTH, text.length);
    this.head = text.slice(0, pieceLength);
    this.tail = text.slice(text.length - pieceLength);
    this.characters = new Set(Array.from(text, (_, index) => text.charCodeAt(index)));
  }

  /** Adds [start, end) of every occurrence in `text`, whole or cut at either end, to `spans`. */
  find(text: string, spans: number[]): void {
    const form = this.text;
    // From each head forward, as far as the text goes on agreeing with the secret.
    for (let at = text.indexOf(this.head); at !== -1; ) {
      let end = at + this.head.length;
      while (
        end < text.length &&
        end - at < form.length &&
        text.charCodeAt(end) === form.charCodeAt(end - at)
      ) {
        end += 1;
      }
      spans.push(at, end);
      at = text.indexOf(this.head, end);
    }
    if (this.tail === form) return; // short enough that head and tail are the whole form
    // From each tail backward: a secret whose front was cut off.
    for (let at = text.indexOf(this.tail); at !== -1; ) {
      const end = at + this.tail.length;
      let start = at;
      while (
        start > 0 &&
        end - start < form.length &&
        text.charCodeAt(start - 1) === form.charCodeAt(form.length - (end - start) - 1)
      ) {
        start -= 1;
      }
      spans.push(start, end);
      at = text.indexOf(this.tail, end);
    }
  }

  /** The length of the longest proper prefix of this form that `text` ends with (0: none). */
  trailingPrefixLength(text: string): number {
    const length = text.length;
    if (length === 0) return 0;
    const last = text.charCodeAt(length - 1);
    if (!this.characters.has(last)) return 0;
    const form = this.text;
    for (let prefix = Math.min(form.length - 1, length); prefix >= 1; prefix -= 1) {
      if (form.charCodeAt(prefix - 1) !== last) continue;
      let matches = true;
      for (let index = 0; index < prefix - 1; index += 1) {
        if (text.charCodeAt(length - prefix + index) !== form.charCodeAt(index)) {
          matches = false;
          break;
        }
      }
      if (matches) return prefix;
    }
    return 0;
  }
}

/**
 * The forms a secret takes in text that leaves: as it is, inside a JSON
 * string (a `"` or `\` escaped, `/` written `\/` by some servers), and
 * percent-encoded (a vendor echoing a URL that carried it).
 */
function formsOf(secret: string): string[] {
  const jsonEscaped = JSON.stringify(secret).slice(1, -1);
  return [
    ...new Set([
      secret,
      jsonEscaped,
      jsonEscaped.replaceAll("/", "\\/"),
      encodeURIComponent(secret),
    ]),
  ];
}

export class SecretRedactor {
  /** A redactor with nothing to redact: every method returns its input. */
  static readonly none = new SecretRedactor([]);

  private readonly forms: SecretForm[];
  /** Text shorter than every form's head cannot hold a piece of a secret: most of an event's fields. */
  private readonly shortestPiece: number;
  /**
   * Every head and tail in one pattern: one scan tells whether a text needs
   * looking at, whatever the number of secrets (two indexOf per form per
   * string cost about a microsecond per event with three keys).
   */
  private readonly anyPiece: RegExp;

  /** Secrets shorter than MIN_REDACTED_SECRET_LENGTH, empty and missing ones are left out. */
  constructor(secrets: Iterable<string | null | undefined>) {
    const kept = new Set<string>();
    for (const secret of secrets) {
      if (isRedactable(secret)) for (const form of formsOf(secret)) kept.add(form);
    }
    this.forms = [...kept].map((form) => new SecretForm(form));
    this.shortestPiece = Math.min(...this.forms.map((form) => form.head.length));
    const pieces = new Set(this.forms.flatMap((form) => [form.head, form.tail]));
    this.anyPiece = new RegExp([...pieces].map(escapeRegExp).join("|"));
  }

  /** False when no secret is configured: callers skip their hooks altogether. */
  get active(): boolean {
    return this.forms.length > 0;
  }

  /** `text` with every secret, whole or cut short at either end, replaced by REDACTED. */
  redact(text: string): string {
    if (text.length < this.shortestPiece) return text; // Infinity when there are no secrets
    if (!this.anyPiece.test(text)) return text;
    const spans: number[] = [];
    for (const form of this.forms) form.find(text, spans);
    return spans.length === 0 ? text : replaceSpans(text, spans);
  }

  /**
   * Every string inside `value` (plain objects and arrays, at any depth)
   * redacted. Copies only what changed: an event without a secret is
   * returned as it is, with no allocation.
   */
  redactValue<T>(value: T): T {
    if (this.forms.length === 0) return value;
    return this.redactDeep(value) as T;
  }

  /** Header values redacted; the same object when none held a secret. */
  redactHeaders<T extends Record<string, unknown>>(headers: T): T {
    return this.redactValue(headers);
  }

  /** A redactor for text that arrives in pieces, where a secret may be split between two of them. */
  stream(): StreamRedactor {
    return new StreamRedactor(this);
  }

  /**
   * Where the proper prefix of a secret that `text` may end with begins
   * (text.length when it ends with none): the part a stream holds back until
   * the next piece says whether the secret goes on.
   */
  heldBackFrom(text: string): number {
    let longest = 0;
    for (const form of this.forms) {
      const prefix = form.trailingPrefixLength(text);
      if (prefix > longest) longest = prefix;
    }
    return text.length - longest;
  }

  private redactDeep(value: unknown): unknown {
    if (typeof value === "string") return this.redact(value);
    if (Array.isArray(value)) {
      let copy: unknown[] | null = null;
      for (let index = 0; index < value.length; index += 1) {
        const item = value[index];
        const redacted = this.redactDeep(item);
        if (redacted !== item) {
          copy ??= value.slice();
          copy[index] = redacted;
        }
      }
      return copy ?? value;
    }
    if (value !== null && typeof value === "object") {
      let copy: Record<string, unknown> | null = null;
      const record = value as Record<string, unknown>;
      for (const key in record) {
        const item = record[key];
        const redacted = this.redactDeep(item);
        if (redacted !== item) {
          copy ??= { ...record };
          copy[key] = redacted;
        }
      }
      return copy ?? value;
    }
    return value;
  }
}

/** Whether a configured secret is long enough to be redacted (see MIN_REDACTED_SECRET_LENGTH). */
export function isRedactable(secret: string | null | undefined): secret is string {
  return typeof secret === "string" && secret.length >= MIN_REDACTED_SECRET_LENGTH;
}

/**
 * Redacts a stream piece by piece. Each piece goes out at once, except a
 * trailing part that could be the start of a secret, held until the next
 * piece (at most a secret's length). An SSE frame ends in a blank line, which
 * no secret contains, so whole frames are never held back.
 */
export class StreamRedactor {
  private held = "";

  constructor(private readonly redactor: SecretRedactor) {}

  /** What of `text` (after what was held) can be written now, redacted. */
  push(text: string): string {
    if (!this.redactor.active) return text;
    const combined = this.held === "" ? text : this.held + text;
    const heldFrom = this.redactor.heldBackFrom(combined);
    this.held = combined.slice(heldFrom);
    return this.redactor.redact(
      heldFrom === combined.length ? combined : combined.slice(0, heldFrom),
    );
  }

  /** What was held back, redacted: the stream has ended. */
  end(): string {
    const rest = this.held;
    this.held = "";
    return this.redactor.redact(rest);
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** `text` with the spans (flat start, end pairs, in any order, overlapping or not) replaced by REDACTED. */
function replaceSpans(text: string, spans: number[]): string {
  const pairs: [number, number][] = [];
  for (let index = 0; index < spans.length; index += 2) {
    pairs.push([spans[index] as number, spans[index + 1] as number]);
  }
  pairs.sort((left, right) => left[0] - right[0]);
  let result = "";
  let written = 0;
  let open = -1;
  let close = -1;
  for (const [start, end] of pairs) {
    if (open !== -1 && start <= close) {
      close = Math.max(close, end);
      continue;
    }
    if (open !== -1) {
      result += text.slice(written, open) + REDACTED;
      written = close;
    }
    open = start;
    close = end;
  }
  if (open !== -1) {
    result += text.slice(written, open) + REDACTED;
    written = close;
  }
  return result + text.slice(written);
}

/** A sink that has every event and record redacted before the sink it wraps sees it. */
class RedactingSink implements EventSink {
  constructor(
    readonly inner: EventSink,
    readonly redactor: SecretRedactor,
  ) {}

  publish(event: SwitchboardEvent): void {
    this.inner.publish(this.redactor.redactValue(event));
  }

  append(topic: string, key: string, value: string): void {
    this.inner.append(topic, this.redactor.redact(key), this.redactor.redact(value));
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * `sink` with every event redacted on its way in. The same sink when there is
 * nothing to redact, or when it already redacts with this redactor, so
 * wrapping twice costs nothing twice.
 */
export function redactingSink(sink: EventSink, redactor: SecretRedactor): EventSink {
  if (!redactor.active) return sink;
  if (sink instanceof RedactingSink && sink.redactor === redactor) return sink;
  return new RedactingSink(sink, redactor);
}
