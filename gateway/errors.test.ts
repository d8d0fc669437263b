import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GATEWAY_ERRORS, GatewayError } from "./errors.ts";

describe("gateway errors", () => {
  it("every code is documented in docs/errors.md's table with its status", () => {
    const readme = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
    for (const [code, { status }] of Object.entries(GATEWAY_ERRORS)) {
      const row = readme
        .split("\n")
        .find((line) => new RegExp(`^\\|\\s*\`${code}\`\\s*\\|`).test(line));
      expect(row, `docs/errors.md has no row for ${code}`).toBeDefined();
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
