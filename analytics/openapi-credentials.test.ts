// /openapi.json and /docs are served without authentication: no credential
// may be in them, the demo token included (it once was, in every example).
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { ClickHouseClient } from "../clickhouse/client.ts";
import { DEMO_ANALYTICS_TOKEN } from "./access.ts";
import { buildAnalytics } from "./app.ts";
import { ANALYTICS_ENDPOINTS, type EndpointDescription, TOKEN_PLACEHOLDER } from "./endpoints.ts";
import { assertNoCredential, docsPage, openApiDocument } from "./openapi.ts";

describe("the unauthenticated API description", () => {
  it("carries no token in /openapi.json or /docs, only the placeholder", async () => {
    // Neither page queries ClickHouse.
    const app = buildAnalytics({
      clickhouse: {} as ClickHouseClient,
      logger: pino({ level: "silent" }),
      tokens: [],
    });
    try {
      for (const path of ["/openapi.json", "/docs"]) {
        const response = await app.inject(path);
        expect(response.statusCode, path).toBe(200);
        expect(response.body, path).not.toContain(DEMO_ANALYTICS_TOKEN);
        expect(response.body, path).not.toContain("sk-switchboard-demo");
        expect(response.body, path).not.toMatch(/\bsk-[A-Za-z0-9_-]{8,}/);
      }
    } finally {
      await app.close();
    }
    for (const endpoint of ANALYTICS_ENDPOINTS) {
      for (const example of endpoint.examples.filter((text) => text.includes("authorization"))) {
        expect(example).toContain(`Bearer ${TOKEN_PLACEHOLDER}`);
      }
    }
  });

  it("refuses to be built with a credential in an example or a description", () => {
    const endpoint = ANALYTICS_ENDPOINTS[0] as EndpointDescription;
    const withToken = (change: Partial<EndpointDescription>) => [{ ...endpoint, ...change }];
    const leaks = [
      withToken({ examples: [`curl -H 'authorization: Bearer ${DEMO_ANALYTICS_TOKEN}' …`] }),
      withToken({ examples: ["curl -H 'Authorization: Bearer 7f3a9c2e1b' …"] }),
      withToken({ description: "try it with sk-live-0123456789abcdef" }),
    ];
    for (const endpoints of leaks) {
      expect(() => openApiDocument(endpoints)).toThrow(/the OpenAPI document contains/);
      expect(() => docsPage(endpoints)).toThrow(/the docs page contains/);
    }
    expect(() => assertNoCredential("Send `Authorization: Bearer <token>`.", "text")).not.toThrow();
    expect(() =>
      assertNoCredential("answers 401: no bearer token, or an unknown one", "text"),
    ).not.toThrow();
  });
});
