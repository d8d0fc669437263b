import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { PartitionLag } from "../eventlog/ports.ts";

const metricsByRegistry = new WeakMap<Registry, IngestMetrics>();

/**
 * Ingest's Prometheus metrics, one set per registry. Consumer lag is asked of
 * the log at scrape time (what the group has committed against the end of
 * each partition), so it keeps rising while ingest is stuck.
 */
export class IngestMetrics {
  readonly rowsInserted: Counter<"table">;
  readonly bytesInserted: Counter<"table">;
  readonly duplicatesSkipped: Counter;
  readonly deadLetters: Counter;
  readonly insertErrors: Counter<"table">;
  readonly batchRetries: Counter;
  readonly batchSeconds: Histogram;
  readonly batchEvents: Histogram;
  readonly retrying: Gauge;
  private readonly lagSources = new Set<() => Promise<PartitionLag[]>>();

  private constructor(registry: Registry) {
    const registers = [registry];
    this.rowsInserted = new Counter({
      name: "switchboard_ingest_rows_inserted_total",
      help: "Event rows inserted into ClickHouse (duplicates left out), per table.",
      labelNames: ["table"],
      registers,
    });
    this.bytesInserted = new Counter({
      name: "switchboard_ingest_bytes_inserted_total",
      help: "Bytes of the events (as read from the log) inserted into ClickHouse, per table.",
      labelNames: ["table"],
      registers,
    });
    this.duplicatesSkipped = new Counter({
      name: "switchboard_ingest_duplicates_skipped_total",
      help: "Events not inserted because they were already stored (redelivery, resend) or repeated in a batch.",
      registers,
    });
    this.deadLetters = new Counter({
      name: "switchboard_ingest_dead_letters_total",
      help: "Events sent to the dead letters (invalid, too big, unknown version, or refused by ClickHouse).",
      registers,
    });
    this.insertErrors = new Counter({
      name: "switchboard_ingest_insert_errors_total",
      help: "Failed ClickHouse statements while storing a batch (the batch is retried), per table.",
      labelNames: ["table"],
      registers,
    });
    this.batchRetries = new Counter({
      name: "switchboard_ingest_batch_retries_total",
      help: "Times a batch was stored again after a failure.",
      registers,
    });
    this.batchSeconds = new Histogram({
      name: "switchboard_ingest_batch_duration_seconds",
      help: "Time to store one batch (decode, look up, insert, dead letters), retries excluded.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.batchEvents = new Histogram({
      name: "switchboard_ingest_batch_events",
      help: "Records per batch handed to ingest.",
      buckets: [1, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000],
      registers,
    });
    this.retrying = new Gauge({
      name: "switchboard_ingest_retrying",
      help: "1 while a batch waits to be retried (ClickHouse failing): the consumer holds it and fetches nothing.",
      registers,
    });
    const lagSources = this.lagSources;
    new Gauge({
      name: "switchboard_ingest_consumer_lag",
      help: "Records in each partition the ingest group has not committed yet.",
      labelNames: ["topic", "partition"],
      registers,
      async collect() {
        this.reset();
        for (const lagOf of lagSources) {
          // A log that cannot answer now leaves the gauge empty rather than failing the scrape.
          const lags = await lagOf().catch(() => []);
          for (const { topic, partition, lag } of lags) {
            this.set({ topic, partition: String(partition) }, lag);
          }
        }
      },
    });
  }

  static for(registry: Registry): IngestMetrics {
    let metrics = metricsByRegistry.get(registry);
    if (metrics === undefined) {
      metrics = new IngestMetrics(registry);
      metricsByRegistry.set(registry, metrics);
    }
    return metrics;
  }

  /** Reports this source's lag until the returned function is called. */
  watchLag(lagOf: () => Promise<PartitionLag[]>): () => void {
    this.lagSources.add(lagOf);
    return () => this.lagSources.delete(lagOf);
  }
}
