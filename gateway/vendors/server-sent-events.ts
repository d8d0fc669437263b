// Server-sent events as every vendor here streams them (OpenAI, Anthropic, and
// Gemini with `alt=sse`): text in, one { event, data } per frame out, however
// the bytes were sliced on the way.
import { createParser, type EventSourceMessage } from "eventsource-parser";

export interface ServerSentEvent {
  /** The `event:` field, or undefined when the frame had none (OpenAI, Gemini). */
  event: string | undefined;
  data: string;
}

export class ServerSentEventReader {
  private readonly completed: ServerSentEvent[] = [];
  private readonly parser = createParser({
    onEvent: (message: EventSourceMessage) => {
      this.completed.push({ event: message.event, data: message.data });
    },
  });

  /** The frames `text` completes, in order. */
  push(text: string): ServerSentEvent[] {
    this.parser.feed(text);
    return this.completed.splice(0);
  }

  /** A last frame left without its blank line, which some servers end on. */
  end(): ServerSentEvent[] {
    this.parser.feed("\n\n");
    return this.completed.splice(0);
  }
}

/** The SSE bytes of one frame. */
export function formatServerSentEvent(data: string, event?: string): string {
  return event ? `event: ${event}\ndata: ${data}\n\n` : `data: ${data}\n\n`;
}
