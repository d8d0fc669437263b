// The OpenAPI document and the docs page, both generated from the endpoint
// descriptions (endpoints.ts) and their zod schemas via z.toJSONSchema.
import { z } from "zod";
import { DEMO_ANALYTICS_TOKEN } from "./access.ts";
import { ANALYTICS_ENDPOINTS, type EndpointDescription, TOKEN_PLACEHOLDER } from "./endpoints.ts";
import { ANALYTICS_ERRORS } from "./errors.ts";

type JsonSchema = Record<string, unknown>;

/** The JSON Schema a client sends for a field: the input side, without the $schema line. */
export function inputSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  // The date-time regex zod emits is long and says no more than `format`
  // (a time parameter is a union: a date-time, or relative to now).
  for (const branch of [rest, ...((rest.anyOf as JsonSchema[] | undefined) ?? [])]) {
    if (branch.format === "date-time") delete branch.pattern;
  }
  return rest;
}

function openApiPath(path: string): string {
  return path.replace(/:([a-z_]+)/g, "{$1}");
}

function isOptional(schema: z.ZodType): boolean {
  return schema.safeParse(undefined).success;
}

function parameters(endpoint: EndpointDescription) {
  const inPath = Object.entries(endpoint.pathParameters ?? {}).map(([name, schema]) => ({
    name,
    in: "path",
    required: true,
    description: schema.description,
    schema: inputSchema(schema),
  }));
  const inQuery = Object.entries(endpoint.queryParameters ?? {}).map(([name, schema]) => {
    const jsonSchema = inputSchema(schema);
    return {
      name,
      in: "query",
      required: !isOptional(schema),
      description: schema.description,
      schema: jsonSchema,
      // Lists come repeated (vendor=a&vendor=b); a comma list in one value is accepted too.
      ...(jsonSchema.type === "array" ? { style: "form", explode: true } : {}),
    };
  });
  return [...inPath, ...inQuery];
}

const ERROR_SCHEMA = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string", enum: Object.keys(ANALYTICS_ERRORS) },
        field: { type: "string", description: "the parameter at fault" },
        message: { type: "string" },
      },
    },
  },
};

/** What may follow `Authorization: Bearer` in text anyone can read: the examples' variable, or `<token>`. */
const PLACEHOLDER_BEARER = new RegExp(
  `^(?:${TOKEN_PLACEHOLDER.replace("$", "\\$")}|<token>|&lt;token&gt;)`,
);
const AUTHORIZATION_VALUE = /authorization:\s*Bearer\s+(\S+)/gi;
/** The shape of Switchboard's keys and tokens and most vendors' (`sk-…`). */
const KEY_SHAPED = /\bsk-[A-Za-z0-9_-]{8,}/;

/**
 * Throws when `text`, served without authentication, carries a credential:
 * the demo token, anything shaped like a key, or an Authorization value that
 * is not a placeholder. Checked once when the API is built, so a credential
 * slipped into an example or a description stops start-up and fails the
 * tests instead of being published.
 */
export function assertNoCredential(text: string, what: string): void {
  if (text.includes(DEMO_ANALYTICS_TOKEN) || KEY_SHAPED.test(text)) {
    throw new Error(`${what} contains a key or token`);
  }
  for (const match of text.matchAll(AUTHORIZATION_VALUE)) {
    const value = (match[1] as string).replace(/^[`'"\\]+/, "");
    if (!PLACEHOLDER_BEARER.test(value)) {
      throw new Error(`${what} contains a bearer value that is not a placeholder`);
    }
  }
}

export function openApiDocument(endpoints: EndpointDescription[] = ANALYTICS_ENDPOINTS) {
  const document = buildOpenApiDocument(endpoints);
  assertNoCredential(JSON.stringify(document), "the OpenAPI document");
  return document;
}

function buildOpenApiDocument(endpoints: EndpointDescription[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const endpoint of endpoints) {
    const operation: Record<string, unknown> = {
      summary: endpoint.summary,
      description: endpoint.description,
      parameters: parameters(endpoint),
      responses: {
        200: {
          description: "success",
          content: Object.fromEntries(endpoint.produces.map((type) => [type, {}])),
        },
        ...(endpoint.authenticated
          ? Object.fromEntries(
              Object.entries(ANALYTICS_ERRORS)
                .filter(([code]) => code !== "internal_error")
                .map(([code, error]) => [
                  error.status,
                  {
                    description: `${code}: ${error.meaning}`,
                    content: {
                      "application/json": { schema: { $ref: "#/components/schemas/Error" } },
                    },
                  },
                ]),
            )
          : {}),
      },
      security: endpoint.authenticated ? [{ analyticsToken: [] }] : [],
      "x-examples": endpoint.examples,
    };
    if (endpoint.body) {
      operation.requestBody = {
        required: true,
        content: { "application/json": { schema: inputSchema(endpoint.body) } },
      };
    }
    paths[openApiPath(endpoint.path)] ??= {};
    (paths[openApiPath(endpoint.path)] as Record<string, unknown>)[endpoint.method.toLowerCase()] =
      operation;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Switchboard analytics",
      version: "1",
      description:
        "Cost, quality and latency of every vendor, model and task, from the event ledger. Send an analytics token as `Authorization: Bearer <token>`; every answer covers only the token's tenants.",
    },
    servers: [{ url: "http://127.0.0.1:8081" }],
    components: {
      securitySchemes: { analyticsToken: { type: "http", scheme: "bearer" } },
      schemas: { Error: ERROR_SCHEMA },
    },
    paths,
  };
}

function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

/** A short human form of a parameter's JSON Schema: `string`, `array of vendor | model`, … */
function typeSummary(schema: JsonSchema): string {
  if (Array.isArray(schema.enum)) return schema.enum.join(" | ");
  if (schema.type === "array" && schema.items) {
    return `list of ${typeSummary(schema.items as JsonSchema)}`;
  }
  if (schema.format) return `${String(schema.type)} (${String(schema.format)})`;
  return String(schema.type ?? "any");
}

export function docsPage(endpoints: EndpointDescription[] = ANALYTICS_ENDPOINTS): string {
  const page = buildDocsPage(endpoints);
  assertNoCredential(page, "the docs page");
  return page;
}

function buildDocsPage(endpoints: EndpointDescription[]): string {
  const sections = endpoints.map((endpoint) => {
    const rows = parameters(endpoint)
      .map(
        (parameter) =>
          `<tr><td><code>${escapeHtml(parameter.name)}</code></td><td>${parameter.in}</td><td>${escapeHtml(
            typeSummary(parameter.schema),
          )}</td><td>${parameter.required ? "yes" : "no"}</td><td>${escapeHtml(
            parameter.description ?? "",
          )}</td></tr>`,
      )
      .join("\n");
    const body = endpoint.body
      ? `<h3>Body</h3><pre>${escapeHtml(JSON.stringify(inputSchema(endpoint.body), null, 2))}</pre>`
      : "";
    return `<section id="${escapeHtml(openApiPath(endpoint.path))}">
<h2><code>${endpoint.method} ${escapeHtml(openApiPath(endpoint.path))}</code></h2>
<p><strong>${escapeHtml(endpoint.summary)}.</strong> ${escapeHtml(endpoint.description)}</p>
<p>Answers: ${endpoint.produces.map((type) => `<code>${escapeHtml(type)}</code>`).join(", ")}.${
      endpoint.authenticated ? " Needs an analytics token." : ""
    }</p>
${rows ? `<table><thead><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>meaning</th></tr></thead><tbody>\n${rows}\n</tbody></table>` : ""}
${body}
<h3>Examples</h3>
${endpoint.examples.map((example) => `<pre>${escapeHtml(example)}</pre>`).join("\n")}
</section>`;
  });
  const errors = Object.entries(ANALYTICS_ERRORS)
    .map(
      ([code, error]) =>
        `<tr><td><code>${code}</code></td><td>${error.status}</td><td>${escapeHtml(error.meaning)}</td></tr>`,
    )
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Switchboard analytics API</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
pre { background: #f4f4f4; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
section { border-top: 1px solid #ddd; margin-top: 2rem; }
</style>
</head>
<body>
<h1>Switchboard analytics API</h1>
<p>Send an analytics token as <code>Authorization: Bearer &lt;token&gt;</code>; every answer covers only the tenants the token may read. The machine-readable form of this page is <a href="/openapi.json"><code>/openapi.json</code></a>.</p>
<nav><ul>${endpoints
    .map(
      (endpoint) =>
        `<li><a href="#${escapeHtml(openApiPath(endpoint.path))}"><code>${endpoint.method} ${escapeHtml(
          openApiPath(endpoint.path),
        )}</code></a> — ${escapeHtml(endpoint.summary)}</li>`,
    )
    .join("")}</ul></nav>
${sections.join("\n")}
<section id="errors"><h2>Errors</h2>
<p>Every error is <code>{"error": {"code", "message", "field"?}}</code>; decide on <code>code</code>.</p>
<table><thead><tr><th>code</th><th>HTTP</th><th>when</th></tr></thead><tbody>
${errors}
</tbody></table></section>
</body>
</html>
`;
}
