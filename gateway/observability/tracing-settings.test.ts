import { describe, expect, it } from "vitest";
import { tracingSettingsFrom } from "./tracing-settings.ts";

describe("tracing settings from the OTEL_* variables", () => {
  it("is off when no endpoint or exporter is named", () => {
    expect(tracingSettingsFrom({})).toBeNull();
    expect(
      tracingSettingsFrom({ OTEL_SERVICE_NAME: "gw", OTEL_EXPORTER_OTLP_HEADERS: "a=b" }),
    ).toBeNull();
  });

  it("is off when disabled, whatever else is set", () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" };
    expect(tracingSettingsFrom({ ...endpoint, OTEL_SDK_DISABLED: "true" })).toBeNull();
    expect(tracingSettingsFrom({ ...endpoint, OTEL_TRACES_EXPORTER: "none" })).toBeNull();
  });

  it("appends /v1/traces to the shared endpoint and takes the signal's own as given", () => {
    expect(
      tracingSettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })?.url,
    ).toBe("http://collector:4318/v1/traces");
    expect(
      tracingSettingsFrom({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/otlp",
      })?.url,
    ).toBe("https://traces.example/otlp");
    expect(tracingSettingsFrom({ OTEL_TRACES_EXPORTER: "otlp" })?.url).toBe(
      "http://localhost:4318/v1/traces",
    );
  });

  it("defaults to http/protobuf, parent-based always-on sampling and the given service name", () => {
    expect(tracingSettingsFrom({ OTEL_TRACES_EXPORTER: "otlp" }, "switchboard-gateway")).toEqual({
      url: "http://localhost:4318/v1/traces",
      protocol: "http/protobuf",
      sampler: "parentbased_always_on",
      samplerRatio: 1,
      resource: { "service.name": "switchboard-gateway" },
    });
  });

  it("reads the protocol, sampler and resource", () => {
    const settings = tracingSettingsFrom({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=prod,service.name=from-resource",
      OTEL_SERVICE_NAME: "gw-eu",
    });
    expect(settings).toMatchObject({
      protocol: "http/json",
      sampler: "parentbased_traceidratio",
      samplerRatio: 0.25,
      resource: { "service.name": "gw-eu", "deployment.environment.name": "prod" },
    });
  });

  it.each([
    [{ OTEL_TRACES_EXPORTER: "zipkin" }, "OTEL_TRACES_EXPORTER=zipkin"],
    [
      { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" },
      "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
    ],
    [{ OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: "sometimes" }, "OTEL_TRACES_SAMPLER"],
    [
      {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_TRACES_SAMPLER: "traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "2",
      },
      "OTEL_TRACES_SAMPLER_ARG=2",
    ],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT"],
  ])("refuses what it cannot honour, naming the variable: %o", (environment, named) => {
    expect(() => tracingSettingsFrom(environment)).toThrow(named);
  });
});
