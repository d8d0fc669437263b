import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GATEWAY_ERRORS, GatewayError } from "./errors.ts";

describe("gateway errors", () => {
  it("every code is documented in the README's error table with its status", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    for (const [code, { status }] of Object.entries(GATEWAY_ERRORS)) {
      const row = readme
        .split("\n")
        .find((line) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`).test(line));
      expect(row, `README has no row for ${code}`).toBeDefined();
      if (code !== "upstream_rejected") expect(row).toMatch(new RegExp(`\\|\\s*${status}\\s*\\|`));
    }
  });

  it("render in OpenAI's error shape", () => {
    const error = new GatewayError("model_not_found", "nope", { param: "model" });
    expect(error.toOpenAI()).toEqual({
      error: {
        message: "nope",
        type: "invalid_request_error",
        param: "model",
        code: "model_not_found",
      },
    });
    expect(error.status).toBe(404);
    expect(error.retryable).toBe(false);
  });
});
