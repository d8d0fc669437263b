// The analytics API's error codes are one table (errors.ts); docs/analytics-api.md's is
// what clients read. A code added to one and not the other fails here.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ANALYTICS_ERRORS, fromFrameworkError } from "./errors.ts";

const DOCS = readFileSync(new URL("../docs/analytics-api.md", import.meta.url), "utf8");

/** The rows of docs/analytics-api.md's "Analytics errors" table: code and status. */
function documentedErrors(): Record<string, number> {
  const section = DOCS.split("\n## Analytics errors\n")[1]?.split("\n## ")[0] ?? "";
  const rows = [...section.matchAll(/^\| `([a-z_]+)` +\| (\d{3}) +\|/gm)];
  return Object.fromEntries(rows.map(([, code, status]) => [code, Number(status)]));
}

describe("analytics errors", () => {
  it("documents every code with its status in docs/analytics-api.md, and no other", () => {
    const table = Object.fromEntries(
      Object.entries(ANALYTICS_ERRORS).map(([code, { status }]) => [code, status]),
    );
    expect(documentedErrors()).toEqual(table);
  });

  it("answers fastify's own client errors as 4xx naming what was wrong, and nothing else", () => {
    const cases: [Partial<{ code: string; statusCode: number }>, number, string][] = [
      [{ code: "FST_ERR_CTP_BODY_TOO_LARGE", statusCode: 413 }, 413, "body"],
      [{ code: "FST_ERR_CTP_INVALID_MEDIA_TYPE", statusCode: 415 }, 415, "content-type"],
      [{ code: "FST_ERR_CTP_EMPTY_JSON_BODY", statusCode: 400 }, 400, "body"],
      [{ code: "FST_ERR_CTP_INVALID_CONTENT_LENGTH", statusCode: 400 }, 400, "content-length"],
      [{ code: "FST_ERR_BAD_URL", statusCode: 400 }, 400, "path"],
      [{ code: "FST_ERR_MAX_PARAM_LENGTH", statusCode: 414 }, 400, "path"],
      // JSON.parse's SyntaxError, which fastify marks 400.
      [{ statusCode: 400 }, 400, "body"],
    ];
    for (const [fields, status, field] of cases) {
      const answer = fromFrameworkError(Object.assign(new Error("x"), fields));
      expect(answer?.status, fields.code).toBe(status);
      expect(answer?.field, fields.code).toBe(field);
    }
    // A failure that is not the client's stays a 500.
    expect(fromFrameworkError(new Error("ClickHouse is down"))).toBeNull();
    expect(fromFrameworkError(Object.assign(new Error("x"), { statusCode: 503 }))).toBeNull();
  });
});
