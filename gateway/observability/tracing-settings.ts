// Which traces to send where, from the standard OpenTelemetry environment
// variables, read and checked once at start-up. Tracing is off unless an
// OTLP endpoint is named (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT) or OTEL_TRACES_EXPORTER=otlp asks for the
// default one; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it
// off whatever else is set. The exporter reads the rest itself
// (OTEL_EXPORTER_OTLP_*HEADERS, *TIMEOUT, *COMPRESSION, certificates).
// A value the gateway cannot honour (gRPC, another exporter, a sampler it
// does not know) stops start-up naming the variable: never a silent default.
import { parseKeyPairsIntoRecord } from "@opentelemetry/core";

export type OtlpProtocol = "http/protobuf" | "http/json";
export type SamplerName =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

export interface TracingSettings {
  /** The URL spans are POSTed to (…/v1/traces). */
  url: string;
  protocol: OtlpProtocol;
  sampler: SamplerName;
  /** For the ratio samplers, 0 to 1. */
  samplerRatio: number;
  /** The resource's attributes: service.name and OTEL_RESOURCE_ATTRIBUTES. */
  resource: Record<string, string>;
}

/** The spec's default for OTLP/HTTP. */
const DEFAULT_ENDPOINT = "http://localhost:4318";
const SAMPLERS: readonly SamplerName[] = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
];

/** Null when tracing is off. Throws, naming the variable, on a value it cannot honour. */
export function tracingSettingsFrom(
  environment: Record<string, string | undefined>,
  defaultServiceName = "switchboard",
): TracingSettings | null {
  const read = (name: string) => {
    const value = environment[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  if (read("OTEL_SDK_DISABLED")?.toLowerCase() === "true") return null;
  const exporter = read("OTEL_TRACES_EXPORTER")?.toLowerCase();
  if (exporter === "none") return null;
  if (exporter !== undefined && exporter !== "otlp") {
    throw new Error(
      `OTEL_TRACES_EXPORTER=${exporter}: the gateway exports traces with OTLP only (otlp, or none to turn tracing off)`,
    );
  }
  const tracesEndpoint = read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const endpoint = read("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (tracesEndpoint === undefined && endpoint === undefined && exporter === undefined) return null;
  // The signal's own endpoint is used as given; the shared one gets the signal's path.
  const url = tracesEndpoint ?? `${(endpoint ?? DEFAULT_ENDPOINT).replace(/\/+$/, "")}/v1/traces`;
  checkUrl(
    url,
    tracesEndpoint ? "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" : "OTEL_EXPORTER_OTLP_ENDPOINT",
  );

  const protocolVariable = read("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
    ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = read(protocolVariable) ?? "http/protobuf";
  if (protocol !== "http/protobuf" && protocol !== "http/json") {
    throw new Error(
      `${protocolVariable}=${protocol}: the gateway sends OTLP over HTTP only (http/protobuf or http/json)`,
    );
  }

  const sampler = (read("OTEL_TRACES_SAMPLER") ?? "parentbased_always_on").toLowerCase();
  if (!SAMPLERS.includes(sampler as SamplerName)) {
    throw new Error(`OTEL_TRACES_SAMPLER=${sampler}: one of ${SAMPLERS.join(", ")}`);
  }
  const ratioText = read("OTEL_TRACES_SAMPLER_ARG");
  const samplerRatio = ratioText === undefined ? 1 : Number(ratioText);
  if (sampler.endsWith("traceidratio") && !(samplerRatio >= 0 && samplerRatio <= 1)) {
    throw new Error(`OTEL_TRACES_SAMPLER_ARG=${ratioText}: a ratio from 0 to 1`);
  }

  const resource = parseKeyPairsIntoRecord(read("OTEL_RESOURCE_ATTRIBUTES"));
  resource["service.name"] =
    read("OTEL_SERVICE_NAME") ?? resource["service.name"] ?? defaultServiceName;
  return { url, protocol, sampler: sampler as SamplerName, samplerRatio, resource };
}

function checkUrl(url: string, variable: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${variable}=${url}: not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`${variable}=${url}: OTLP/HTTP needs an http or https URL`);
  }
}
