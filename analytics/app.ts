import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from "fastify";
import type { ClickHouseClient } from "../clickhouse/client.ts";
import { readMatrix } from "./matrix.ts";
import { matrixParameters } from "./matrix-query.ts";

export interface AnalyticsDependencies {
  clickhouse: ClickHouseClient;
  logger: FastifyBaseLogger;
}

/** A 4xx that names the offending parameter. */
export class ParameterError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Builds the analytics API without listening, so tests can `inject()` requests. */
export function buildAnalytics({ clickhouse, logger }: AnalyticsDependencies): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.get("/v1/matrix", async (request) => {
    const parsed = matrixParameters.safeParse(request.query);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      // The first path element is the query parameter (group_by.1 → group_by);
      // an unknown parameter has none, and zod names it in `keys`.
      const field = String(issue?.path[0] ?? (issue as { keys?: string[] })?.keys?.[0] ?? "query");
      throw new ParameterError(field, issue?.message ?? "invalid parameter");
    }
    return { rows: await readMatrix(clickhouse, parsed.data) };
  });
  app.get("/healthz", async () => ({ status: "ok" }));

  app.setErrorHandler((error: FastifyError | ParameterError, _request, reply) => {
    if (error instanceof ParameterError) {
      reply
        .code(400)
        .send({ error: { code: "invalid_parameter", field: error.field, message: error.message } });
      return;
    }
    logger.error({ err: error }, "analytics error");
    reply.code(500).send({
      error: { code: "internal_error", message: "The analytics API had an internal error." },
    });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: { code: "not_found", message: `Unknown route ${request.method} ${request.url}.` },
    });
  });
  return app;
}
