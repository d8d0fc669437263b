// The analytics API's own metrics: requests and their latency per endpoint,
// and rows exported. Endpoints are labelled by their route pattern
// (`/v1/vendors/:vendor/brief`), never the URL as sent, so a vendor id or a
// query string never becomes a label value; an unknown path is `unmatched`.
// Datasets and formats are the ones the export's parameters accept.
import type { FastifyInstance } from "fastify";
import { Counter, Histogram, type Registry } from "prom-client";

/** Seconds: matrix and brief queries take milliseconds to seconds; exports up to minutes. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export class AnalyticsMetrics {
  private readonly requests: Counter<"route" | "method" | "status">;
  private readonly duration: Histogram<"route" | "method">;
  private readonly exportRows: Counter<"dataset" | "format">;

  constructor(registry: Registry) {
    // One analytics API per registry: a second built on it (tests) replaces the first's.
    for (const name of METRIC_NAMES) registry.removeSingleMetric(name);
    this.requests = new Counter({
      name: "switchboard_analytics_requests_total",
      help: "Analytics API answers by route pattern, method and HTTP status.",
      labelNames: ["route", "method", "status"] as const,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: "switchboard_analytics_request_duration_seconds",
      help: "Time to answer an analytics API request (a whole export stream included), by route pattern and method.",
      labelNames: ["route", "method"] as const,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    this.exportRows = new Counter({
      name: "switchboard_analytics_export_rows_total",
      help: "Rows sent by /v1/export, by dataset and format.",
      labelNames: ["dataset", "format"] as const,
      registers: [registry],
    });
  }

  /** Counts every answer the app sends, when it is sent (an export: when its stream ends). */
  observe(app: FastifyInstance): void {
    app.addHook("onResponse", (request, reply, done) => {
      const route = request.routeOptions.url ?? "unmatched";
      this.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
      this.duration.observe({ route, method: request.method }, reply.elapsedTime / 1000);
      done();
    });
  }

  exported(dataset: string, format: string, rows: number): void {
    this.exportRows.inc({ dataset, format }, rows);
  }
}

const METRIC_NAMES = [
  "switchboard_analytics_requests_total",
  "switchboard_analytics_request_duration_seconds",
  "switchboard_analytics_export_rows_total",
];
