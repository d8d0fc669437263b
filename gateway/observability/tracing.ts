// OpenTelemetry traces of the gateway, with the GenAI semantic conventions
// (https://github.com/open-telemetry/semantic-conventions-genai, client
// inference spans): one SERVER span per request, one CLIENT span per attempt
// at a vendor (its child), and the routing decision as an event on the
// request's span. Each carries the request id (switchboard.request_id).
// No prompt or completion content is ever set: the conventions' opt-in
// content attributes (gen_ai.input.messages, gen_ai.output.messages,
// gen_ai.system_instructions, gen_ai.tool.definitions) stay off.
//
// A client's W3C traceparent is the request span's parent; each attempt
// sends its own span's traceparent to the vendor. Spans are made with an
// explicit parent, never through a context manager (AsyncLocalStorage would
// cost every request, traced or not). With tracing off nothing here runs;
// a client's traceparent is then sent on to the vendor as it came.

import type { IncomingHttpHeaders } from "node:http";
import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter as OtlpJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OtlpProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import type { EventSink } from "../../eventlog/ports.ts";
import type { SwitchboardEvent } from "../../events/schemas.ts";
import type { RouteTarget } from "../config.ts";
import type { UpstreamRequest } from "../vendors/adapter.ts";
import type { TracingSettings } from "./tracing-settings.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The request's trace when tracing is on (app.ts), else null. */
    trace: RequestTrace | null;
  }
}

/** Attribute names: the GenAI conventions', the stable HTTP and server ones, and ours. */
export const ATTRIBUTES = {
  operation: "gen_ai.operation.name",
  provider: "gen_ai.provider.name",
  requestModel: "gen_ai.request.model",
  requestStream: "gen_ai.request.stream",
  responseModel: "gen_ai.response.model",
  finishReasons: "gen_ai.response.finish_reasons",
  timeToFirstChunk: "gen_ai.response.time_to_first_chunk",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  cacheReadInputTokens: "gen_ai.usage.cache_read.input_tokens",
  cacheWriteInputTokens: "gen_ai.usage.cache_write.input_tokens",
  reasoningOutputTokens: "gen_ai.usage.reasoning.output_tokens",
  errorType: "error.type",
  serverAddress: "server.address",
  serverPort: "server.port",
  httpMethod: "http.request.method",
  httpRoute: "http.route",
  httpStatus: "http.response.status_code",
  requestId: "switchboard.request_id",
  task: "switchboard.task",
  taskSource: "switchboard.task_source",
  vendor: "switchboard.vendor",
  attempt: "switchboard.attempt",
  attempts: "switchboard.attempts",
  costUsd: "switchboard.cost_usd",
  usageSource: "switchboard.usage_source",
  outcome: "switchboard.outcome",
} as const;

/** What the attempt spans say of each configured vendor. */
export interface TracedVendor {
  /** gen_ai.provider.name of the vendor's protocol (the adapter's providerName). */
  providerName: string;
  baseUrl: string;
}

/** How an attempt ended, for its span (attempt-loop.ts). */
export interface AttemptEnd {
  /** success, or the error class. */
  outcome: string;
  /** The failure's stable code (error.type), when it failed. */
  errorCode?: string;
  /** Seconds from the attempt's start to its first chunk, for a stream. */
  timeToFirstChunkSeconds?: number | null;
}

/** What a request's dispatch asks of its trace; also implemented when only passing a client's context on. */
export interface CallTrace {
  attemptStarted(target: RouteTarget, attempt: number): void;
  attemptEnded(end: AttemptEnd): void;
  /** The upstream request, carrying the trace context to the vendor. */
  carrying(request: UpstreamRequest): UpstreamRequest;
}

const PROPAGATOR = new W3CTraceContextPropagator();
const headerGetter: TextMapGetter<IncomingHttpHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
const headerSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The gateway's tracer: made once at start-up when tracing is on, shut down (flushed) at stop. */
export class GatewayTracing {
  private readonly provider: TracerProvider;
  readonly tracer: Tracer;
  readonly propagator = PROPAGATOR;
  private readonly vendors: Map<string, { providerName: string; host: string; port: number }>;

  constructor(
    settings: TracingSettings,
    vendors: ReadonlyMap<string, TracedVendor>,
    /** Tests pass their own; by default the OTLP/HTTP exporter the settings name. */
    exporter: SpanExporter = exporterFor(settings),
  ) {
    this.provider = new TracerProvider({
      resource: resourceFromAttributes(settings.resource),
      sampler: samplerFor(settings),
      spanProcessors: [new BatchSpanProcessor({ exporter })],
    });
    this.tracer = this.provider.getTracer("switchboard-gateway");
    this.vendors = new Map(
      [...vendors].map(([id, vendor]) => {
        const url = new URL(vendor.baseUrl);
        const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
        return [id, { providerName: vendor.providerName, host: url.hostname, port }];
      }),
    );
  }

  /** A request's trace, its span a child of the client's traceparent when it sent one. */
  startRequest(
    request: {
      id: string;
      method: string;
      headers: IncomingHttpHeaders;
      routeOptions: { url?: string | undefined };
    },
    sink: EventSink,
  ): RequestTrace {
    const parent = this.propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
    const route = request.routeOptions.url ?? "";
    const operation = route === "/v1/embeddings" ? "embeddings" : "chat";
    const span = this.tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTRIBUTES.operation]: operation,
          [ATTRIBUTES.httpMethod]: request.method,
          [ATTRIBUTES.httpRoute]: route,
          [ATTRIBUTES.requestId]: request.id,
        },
      },
      parent,
    );
    return new RequestTrace(this, span, operation, request.id, sink);
  }

  vendorOf(vendor: string) {
    return this.vendors.get(vendor);
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

/**
 * One request's spans. The request's ledger publishes through it (it is an
 * EventSink): route_decided becomes the span event, request_completed the
 * GenAI attributes of the request's span and of the attempt that answered,
 * so the trace says what the ledger recorded.
 */
export class RequestTrace implements CallTrace, EventSink {
  private readonly context: Context;
  private attemptSpan: Span | null = null;
  private routed = false;
  private completed = false;
  /** The status the response closed with, while its request_completed is still to come. */
  private closedWith: number | null = null;
  private ended = false;

  constructor(
    private readonly tracing: GatewayTracing,
    private readonly span: Span,
    private readonly operation: string,
    private readonly requestId: string,
    private readonly sink: EventSink,
  ) {
    this.context = trace.setSpan(ROOT_CONTEXT, span);
  }

  publish(event: SwitchboardEvent): void {
    this.sink.publish(event);
    switch (event.event_type) {
      case "route_decided": {
        this.routed = true;
        this.span.updateName(`${this.operation} ${event.request_model}`);
        this.span.setAttributes({
          [ATTRIBUTES.requestModel]: event.request_model,
          [ATTRIBUTES.task]: event.task,
          [ATTRIBUTES.taskSource]: event.task_source,
        });
        // Configured names and the gateway's own reasons only: nothing the client wrote.
        this.span.addEvent("switchboard.route_decided", {
          "switchboard.policy": event.policy,
          "switchboard.reason": event.reason,
          "switchboard.chosen": event.chosen_vendor
            ? `${event.chosen_vendor}/${event.chosen_model}`
            : "",
          "switchboard.candidates": event.candidates.map((each) => `${each.vendor}/${each.model}`),
          "switchboard.skipped": event.candidates.map((each) => each.skipped_reason ?? ""),
        });
        break;
      }
      case "request_completed": {
        const attributes: Record<string, string | number | boolean | string[]> = {
          [ATTRIBUTES.requestStream]: event.streamed,
          [ATTRIBUTES.inputTokens]: event.input_tokens,
          [ATTRIBUTES.outputTokens]: event.output_tokens,
          [ATTRIBUTES.cacheReadInputTokens]: event.cached_input_tokens,
          [ATTRIBUTES.cacheWriteInputTokens]: event.cache_write_input_tokens,
          [ATTRIBUTES.reasoningOutputTokens]: event.reasoning_tokens,
          [ATTRIBUTES.usageSource]: event.usage_source,
          [ATTRIBUTES.attempts]: event.attempts,
          [ATTRIBUTES.costUsd]: event.cost_usd,
        };
        if (event.vendor !== null) {
          attributes[ATTRIBUTES.vendor] = event.vendor;
          const provider = this.tracing.vendorOf(event.vendor)?.providerName;
          if (provider) attributes[ATTRIBUTES.provider] = provider;
        }
        if (event.response_model !== null)
          attributes[ATTRIBUTES.responseModel] = event.response_model;
        if (event.finish_reason !== null)
          attributes[ATTRIBUTES.finishReasons] = [event.finish_reason];
        if (event.status === "error") {
          attributes[ATTRIBUTES.errorType] = event.error_class ?? "gateway_error";
          // A server span is in error for the gateway's and the vendors' failures, not the client's.
          if (event.error_class !== "client_error" && event.error_class !== "client_closed") {
            this.span.setStatus({ code: SpanStatusCode.ERROR });
          }
        }
        this.span.setAttributes(attributes);
        // The attempt that completed the request (an answer, or the vendor's refusal).
        if (this.attemptSpan) {
          const {
            [ATTRIBUTES.attempts]: _attempts,
            [ATTRIBUTES.vendor]: _vendor,
            ...usage
          } = attributes;
          this.attemptSpan.setAttributes(usage);
        }
        this.completed = true;
        if (this.closedWith !== null) this.finish(this.closedWith);
        break;
      }
    }
  }

  append(topic: string, key: string, value: string): void {
    this.sink.append(topic, key, value);
  }

  flush(): Promise<void> {
    return this.sink.flush();
  }

  close(): Promise<void> {
    return this.sink.close();
  }

  attemptStarted(target: RouteTarget, attempt: number): void {
    this.attemptSpan?.end();
    const vendor = this.tracing.vendorOf(target.vendor);
    this.attemptSpan = this.tracing.tracer.startSpan(
      `${this.operation} ${target.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTRIBUTES.operation]: this.operation,
          [ATTRIBUTES.provider]: vendor?.providerName ?? target.vendor,
          [ATTRIBUTES.requestModel]: target.model,
          [ATTRIBUTES.vendor]: target.vendor,
          [ATTRIBUTES.attempt]: attempt,
          [ATTRIBUTES.requestId]: this.requestId,
          ...(vendor
            ? { [ATTRIBUTES.serverAddress]: vendor.host, [ATTRIBUTES.serverPort]: vendor.port }
            : {}),
        },
      },
      this.context,
    );
  }

  attemptEnded(end: AttemptEnd): void {
    const span = this.attemptSpan;
    if (!span) return;
    this.attemptSpan = null;
    span.setAttribute(ATTRIBUTES.outcome, end.outcome);
    if (end.timeToFirstChunkSeconds != null) {
      span.setAttribute(ATTRIBUTES.timeToFirstChunk, end.timeToFirstChunkSeconds);
    }
    if (end.outcome !== "success") {
      span.setAttribute(ATTRIBUTES.errorType, end.errorCode ?? end.outcome);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
    if (this.closedWith !== null && this.completed) this.finish(this.closedWith);
  }

  carrying(request: UpstreamRequest): UpstreamRequest {
    const headers = { ...request.headers };
    const context = this.attemptSpan ? trace.setSpan(ROOT_CONTEXT, this.attemptSpan) : this.context;
    this.tracing.propagator.inject(context, headers, headerSetter);
    return { ...request, headers };
  }

  /** A failure answered by the gateway's error handler: its stable code. */
  failed(code: string): void {
    this.span.setAttribute(ATTRIBUTES.errorType, code);
  }

  /**
   * The response is over (sent, or the connection closed). A routed request
   * whose client left before its request_completed ends with it: the ledger
   * publishes one for every routed request (chat-dispatch.ts, completingOnce).
   */
  end(statusCode: number): void {
    if (this.routed && !this.completed) this.closedWith = statusCode;
    else this.finish(statusCode);
  }

  private finish(statusCode: number): void {
    if (this.ended) return;
    // An attempt still open (its request_completed came from inside it) ends first, with its outcome.
    if (this.attemptSpan) {
      this.closedWith = statusCode;
      return;
    }
    this.ended = true;
    this.span.setAttribute(ATTRIBUTES.httpStatus, statusCode);
    if (statusCode >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
    this.span.end();
  }
}

/**
 * Tracing off: a client's trace context goes on to the vendor as it came,
 * so the vendor's spans still join the client's trace. Checked with the W3C
 * propagator first: a malformed traceparent is not sent on.
 */
export class PassedOnTrace implements CallTrace {
  private constructor(private readonly headers: Record<string, string>) {}

  static of(headers: IncomingHttpHeaders): PassedOnTrace | null {
    const traceparent = headers.traceparent;
    if (typeof traceparent !== "string") return null;
    const context = PROPAGATOR.extract(ROOT_CONTEXT, headers, headerGetter);
    if (!trace.getSpanContext(context)) return null;
    const carried: Record<string, string> = { traceparent };
    if (typeof headers.tracestate === "string") carried.tracestate = headers.tracestate;
    return new PassedOnTrace(carried);
  }

  attemptStarted(): void {}
  attemptEnded(): void {}

  carrying(request: UpstreamRequest): UpstreamRequest {
    return { ...request, headers: { ...request.headers, ...this.headers } };
  }
}

function exporterFor(settings: TracingSettings): SpanExporter {
  return settings.protocol === "http/json"
    ? new OtlpJsonExporter({ url: settings.url })
    : new OtlpProtobufExporter({ url: settings.url });
}

function samplerFor(settings: TracingSettings): Sampler {
  const ratio = new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio;
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
