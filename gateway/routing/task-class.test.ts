import { describe, expect, it } from "vitest";
import { GatewayError } from "../errors.ts";
import { TaskClassifier, type TaskSignals } from "./task-class.ts";

const classifier = new TaskClassifier(
  [
    { task: "code", when: { tools: true } },
    { task: "extraction", when: { response_format: "json_schema" } },
    { task: "long_form", when: { path: "/v1/messages", model: ["smart", "claude"] } },
    { task: "classification", when: { model: "fast" } },
  ],
  "general",
);

const plain: TaskSignals = {
  header: undefined,
  metadataTask: undefined,
  path: "/v1/chat/completions",
  model: "smart",
  hasTools: false,
  responseFormat: undefined,
};

describe("task class resolution: header, then metadata.task, then rules in order, then the default", () => {
  it.each([
    [
      "the header wins over everything",
      { header: "summarize", metadataTask: "code", hasTools: true },
      "summarize",
      "header",
    ],
    ["the first header value of several", { header: ["qa", "code"] }, "qa", "header"],
    [
      "metadata.task wins over the rules",
      { metadataTask: "translation", hasTools: true },
      "translation",
      "metadata",
    ],
    ["a null metadata.task is absent", { metadataTask: null }, "general", "default"],
    [
      "the first matching rule: tools",
      { hasTools: true, responseFormat: "json_schema" },
      "code",
      "rule",
    ],
    ["rule: response_format", { responseFormat: "json_schema" }, "extraction", "rule"],
    [
      "rule: response_format must match exactly",
      { responseFormat: "json_object" },
      "general",
      "default",
    ],
    [
      "rule: path and model together",
      { path: "/v1/messages", model: "claude" },
      "long_form",
      "rule",
    ],
    [
      "rule: path alone is not enough",
      { path: "/v1/messages", model: "other" },
      "general",
      "default",
    ],
    ["rule: model asked", { model: "fast" }, "classification", "rule"],
    ["no rule matches: the default", {}, "general", "default"],
  ] as const)("%s", (_name, overrides, task, source) => {
    expect(classifier.resolve({ ...plain, ...overrides } as TaskSignals)).toEqual({ task, source });
  });

  it.each([
    [{ header: "Bad Task!" }, "x-switchboard-task"],
    [{ header: "" }, "x-switchboard-task"],
    [{ metadataTask: "x".repeat(65) }, "metadata.task"],
    [{ metadataTask: 42 }, "metadata.task"],
  ])("refuses a malformed task %j, naming where it came from", (overrides, param) => {
    let caught: unknown;
    try {
      classifier.resolve({ ...plain, ...overrides });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect(caught).toMatchObject({ code: "invalid_request", param, status: 400 });
  });
});
