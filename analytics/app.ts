import { Readable } from "node:stream";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Registry } from "prom-client";
import { z } from "zod";
import type { ClickHouseClient } from "../clickhouse/client.ts";
import {
  type AnalyticsTokenConfig,
  AnalyticsTokens,
  narrowScope,
  type TenantScope,
} from "./access.ts";
import { AnalyticsMetrics } from "./analytics-metrics.ts";
import { type CommitmentTerms, commitmentParameters, readCommitments } from "./commitments.ts";
import { ANALYTICS_ENDPOINTS } from "./endpoints.ts";
import {
  ANALYTICS_BODY_LIMIT_BYTES,
  AnalyticsError,
  fromFrameworkError,
  ParameterError,
} from "./errors.ts";
import { decodeCursor } from "./export/cursor.ts";
import { exportParameters, exportPath } from "./export/export-parameters.ts";
import {
  DEFAULT_EXPORT_OPTIONS,
  type ExportOptions,
  prepareExport,
} from "./export/export-stream.ts";
import { registerJsonBodyParser } from "./json-body.ts";
import { readMatrix } from "./matrix.ts";
import { matrixParameters } from "./matrix-query.ts";
import { docsPage, openApiDocument } from "./openapi.ts";
import { parseParameters } from "./parameters.ts";
import { EMPTY_SLO_CONFIG, type SloConfig } from "./slo.ts";
import { briefParameters, briefPathFields, readVendorBrief } from "./vendor-brief.ts";
import { briefToCsv, briefToHtml, briefToMarkdown } from "./vendor-brief-render.ts";
import { runWhatIf } from "./whatif.ts";
import { whatIfRequest } from "./whatif-request.ts";

export { ParameterError };

export interface AnalyticsDependencies {
  clickhouse: ClickHouseClient;
  logger: FastifyBaseLogger;
  /**
   * Who may read what (config `analytics.tokens`; the CLI always passes it).
   * Omitted, the API is open: every caller reads every tenant. That is for
   * tests and embedding in a trusted process, never for a listening server.
   */
  tokens?: AnalyticsTokenConfig[];
  /** Page size and settle time of the exports; tests shrink them. */
  exportOptions?: ExportOptions;
  /** Service-level targets the vendor brief reads (config `analytics.slo`). */
  slo?: SloConfig;
  /** Committed spends GET /v1/commitments measures (config gateway.contracts[].commitment). */
  commitments?: readonly CommitmentTerms[];
  /**
   * Where the API's request and export metrics go (analytics-metrics.ts);
   * served by the caller. None: not counted.
   */
  metrics?: Registry;
}

const OPEN_SCOPE: TenantScope = { tokenId: "open", tenants: "all" };

declare module "fastify" {
  interface FastifyRequest {
    tenantScope: TenantScope;
  }
}

/** Builds the analytics API without listening, so tests can `inject()` requests. */
export function buildAnalytics({
  clickhouse,
  logger,
  tokens,
  exportOptions = DEFAULT_EXPORT_OPTIONS,
  slo = EMPTY_SLO_CONFIG,
  commitments = [],
  metrics: registry,
}: AnalyticsDependencies): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: ANALYTICS_BODY_LIMIT_BYTES,
    // Long enough that a too-long vendor id reaches its zod schema (at most
    // 256), which names the parameter; beyond it, frameworkErrors answers.
    routerOptions: { maxParamLength: 1024 },
    // A path that is not UTF-8, a parameter past the router's bound: the
    // client's mistake, answered in this API's error format.
    frameworkErrors: (error, _request, reply) => {
      const answer =
        fromFrameworkError(error) ?? new ParameterError("path", "the path could not be read");
      (reply as FastifyReply).code(answer.status).send(answer.toBody());
    },
  });
  // JSON only (fastify's text/plain parser would hand a string to a handler
  // that reads an object), nested at most MAX_BODY_DEPTH levels.
  registerJsonBodyParser(app);
  const metrics = registry ? new AnalyticsMetrics(registry) : null;
  metrics?.observe(app);
  const analyticsTokens = tokens ? new AnalyticsTokens(tokens) : null;
  if (analyticsTokens?.size === 0) {
    logger.warn("no analytics token configured (analytics.tokens): every query answers 401");
  }
  const publicPaths = new Set(
    ANALYTICS_ENDPOINTS.filter((endpoint) => !endpoint.authenticated).map(
      (endpoint) => endpoint.path,
    ),
  );

  app.decorateRequest("tenantScope", null as unknown as TenantScope);
  app.addHook("onRequest", async (request: FastifyRequest) => {
    if (publicPaths.has(request.routeOptions.url ?? "")) return;
    if (request.routeOptions.url === undefined) return; // 404s answer without a token check
    request.tenantScope = analyticsTokens
      ? analyticsTokens.authenticate(request.headers.authorization)
      : OPEN_SCOPE;
  });

  app.get("/v1/matrix", async (request) => {
    const parameters = parseParameters(matrixParameters, request.query);
    const scope = narrowScope(request.tenantScope, parameters.filters.tenant);
    return readMatrix(clickhouse, parameters, scope);
  });

  app.post("/v1/whatif", async (request) => {
    const body = parseParameters(whatIfRequest, request.body, "body");
    if (body.from && body.to && body.from >= body.to) {
      throw new ParameterError("from", "from must be before to");
    }
    return runWhatIf(clickhouse, body, narrowScope(request.tenantScope, body.tenant));
  });

  app.get("/v1/vendors/:vendor/brief", async (request, reply) => {
    const { vendor } = parseParameters(z.object(briefPathFields), request.params);
    const parameters = parseParameters(briefParameters, request.query);
    if (parameters.from && parameters.to && parameters.from >= parameters.to) {
      throw new ParameterError("from", "from must be before to");
    }
    const scope = narrowScope(request.tenantScope, parameters.tenant);
    const brief = await readVendorBrief(clickhouse, vendor, parameters, scope, slo);
    switch (parameters.format) {
      case "md":
        return reply.type("text/markdown; charset=utf-8").send(briefToMarkdown(brief));
      case "csv":
        return reply.type("text/csv; charset=utf-8; header=present").send(briefToCsv(brief));
      case "html":
        return reply.type("text/html; charset=utf-8").send(briefToHtml(brief));
      default:
        return brief;
    }
  });

  app.get("/v1/commitments", async (request) => {
    const parameters = parseParameters(commitmentParameters, request.query);
    const scope = narrowScope(request.tenantScope, parameters.tenant);
    return readCommitments(clickhouse, commitments, parameters, scope);
  });

  app.get("/v1/export/:dataset", async (request, reply) => {
    const { dataset } = parseParameters(exportPath, request.params);
    const parameters = parseParameters(exportParameters, request.query);
    if (parameters.from && parameters.to && parameters.from >= parameters.to) {
      throw new ParameterError("from", "from must be before to");
    }
    const prepared = await prepareExport(
      clickhouse,
      {
        dataset,
        format: parameters.format,
        cursor: parameters.cursor ? decodeCursor(parameters.cursor, dataset) : null,
        from: parameters.from,
        to: parameters.to,
        limit: parameters.limit,
        scope: narrowScope(request.tenantScope, parameters.tenant),
      },
      exportOptions,
    );
    metrics?.exported(dataset, parameters.format, prepared.rows);
    reply
      .type(prepared.contentType)
      .header("content-disposition", `attachment; filename="${prepared.fileName}"`)
      .header("cache-control", "no-store")
      .header("x-switchboard-next-cursor", prepared.nextCursor)
      .header("x-switchboard-export-complete", String(prepared.complete));
    // One page is buffered at a time: the stream asks for the next only when this one is written.
    return reply.send(Readable.from(prepared.body, { objectMode: false, highWaterMark: 1 }));
  });

  const openApi = openApiDocument();
  app.get("/openapi.json", async () => openApi);
  const docs = docsPage();
  app.get("/docs", async (_request, reply) => reply.type("text/html; charset=utf-8").send(docs));
  app.get("/healthz", async () => ({ status: "ok" }));

  app.setErrorHandler((error: Error, _request, reply) => {
    const answer = error instanceof AnalyticsError ? error : fromFrameworkError(error);
    if (answer) {
      reply.code(answer.status).send(answer.toBody());
      return;
    }
    logger.error({ err: error }, "analytics error");
    reply
      .code(500)
      .send(
        new AnalyticsError("internal_error", "The analytics API had an internal error.").toBody(),
      );
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(
      new AnalyticsError(
        "not_found",
        // The path as sent, bounded: an answer never grows with what a client sends.
        `Unknown route ${request.method} ${request.url.slice(0, 200)}.`,
      ).toBody(),
    );
  });
  return app;
}
