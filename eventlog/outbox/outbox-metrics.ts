import { Counter, Gauge, type Registry } from "prom-client";

/** What one outbox reports at each scrape. */
export interface OutboxState {
  /** The outbox's name: its folder under the outbox directory ("gateway"). */
  name: string;
  /** Events on disk not yet acknowledged by Kafka. */
  depthEvents: number;
  spoolBytes: number;
  maxSpoolBytes: number;
  /** Events in the memory buffer in front of Kafka and the spool. */
  memoryEvents: number;
  /** True while a spool write is refused because the spool is at its size bound. */
  full: boolean;
  /** True while events go to the spool rather than straight to Kafka. */
  spooling: boolean;
}

const metricsByRegistry = new WeakMap<Registry, OutboxMetrics>();

/**
 * The outbox's Prometheus metrics, one set per registry, labelled by outbox.
 * Gauges are read from the live outboxes at scrape time; counters are counted
 * as things happen.
 */
export class OutboxMetrics {
  readonly sentEvents: Counter<"outbox">;
  readonly spooledEvents: Counter<"outbox">;
  readonly drainedEvents: Counter<"outbox">;
  readonly droppedEvents: Counter<"outbox">;
  private readonly outboxes = new Set<{ state(): OutboxState }>();

  private constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ["outbox"] as const;
    this.sentEvents = new Counter({
      name: "switchboard_outbox_sent_events_total",
      help: "Events sent straight to Kafka and acknowledged, without touching the spool.",
      labelNames,
      registers,
    });
    this.spooledEvents = new Counter({
      name: "switchboard_outbox_spooled_events_total",
      help: "Events written (and fsync'd) to the outbox spool because Kafka was unreachable or behind.",
      labelNames,
      registers,
    });
    this.drainedEvents = new Counter({
      name: "switchboard_outbox_drained_events_total",
      help: "Spooled events sent to Kafka and acknowledged.",
      labelNames,
      registers,
    });
    this.droppedEvents = new Counter({
      name: "switchboard_outbox_dropped_events_total",
      help: "Events LOST because the spool was full (or failing) and the memory buffer too.",
      labelNames,
      registers,
    });
    const outboxes = this.outboxes;
    const gauge = (name: string, help: string, read: (state: OutboxState) => number) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          for (const outbox of outboxes) {
            const state = outbox.state();
            this.set({ outbox: state.name }, read(state));
          }
        },
      });
    gauge(
      "switchboard_outbox_depth_events",
      "Events in the outbox spool not yet acknowledged by Kafka.",
      (state) => state.depthEvents,
    );
    gauge(
      "switchboard_outbox_spool_bytes",
      "Bytes of the outbox spool's segment files.",
      (state) => state.spoolBytes,
    );
    gauge(
      "switchboard_outbox_spool_limit_bytes",
      "The spool's size bound (outbox.max_bytes).",
      (state) => state.maxSpoolBytes,
    );
    gauge(
      "switchboard_outbox_memory_events",
      "Events in the memory buffer in front of Kafka and the spool.",
      (state) => state.memoryEvents,
    );
    gauge(
      "switchboard_outbox_full",
      "1 while the spool refuses writes at its size bound: events pile up in memory, then are dropped.",
      (state) => (state.full ? 1 : 0),
    );
    gauge(
      "switchboard_outbox_spooling",
      "1 while events go to the spool rather than straight to Kafka.",
      (state) => (state.spooling ? 1 : 0),
    );
  }

  static for(registry: Registry): OutboxMetrics {
    let metrics = metricsByRegistry.get(registry);
    if (metrics === undefined) {
      metrics = new OutboxMetrics(registry);
      metricsByRegistry.set(registry, metrics);
    }
    return metrics;
  }

  /** Reports this outbox's gauges until the returned function is called. */
  watch(outbox: { state(): OutboxState }): () => void {
    this.outboxes.add(outbox);
    return () => this.outboxes.delete(outbox);
  }
}
