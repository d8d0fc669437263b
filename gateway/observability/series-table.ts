// Counters and histograms whose label values are all known at start-up, kept
// as plain numbers in typed arrays: counting is an index and an addition, no
// string built, no object made. prom-client's own `inc(labels)` hashes the
// label values into a string on every call (about 0.8 µs a counter and
// 1.2 µs a histogram on the bench machine, eight of them a request); here
// the cost moves to the scrape, which walks the arrays and writes the series
// that were ever counted.
//
// Both classes extend prom-client's, so a Registry serves them like any
// other metric; only what they report is read from the arrays.
import { Counter, Histogram, type Registry } from "prom-client";

/**
 * One axis of a table: the label names it writes (vendor and model are one
 * axis) and, per position, their values in that order.
 */
export interface Axis {
  readonly labelNames: readonly string[];
  readonly values: readonly (readonly string[])[];
}

/** An axis of one label with the given values. */
export function axisOf(labelName: string, values: readonly string[]): Axis {
  return { labelNames: [labelName], values: values.map((value) => [value]) };
}

/** Row-major cell numbering over the axes; the cell of (a, b, c) is `(a × |B| + b) × |C| + c`. */
class Cells {
  readonly size: number;
  readonly labelNames: string[];

  constructor(readonly axes: readonly Axis[]) {
    this.size = axes.reduce((size, axis) => size * axis.values.length, 1);
    this.labelNames = axes.flatMap((axis) => axis.labelNames);
  }

  /** The labels of a cell, for the scrape. */
  labelsOf(cell: number): Record<string, string> {
    const labels: Record<string, string> = {};
    let rest = cell;
    for (let index = this.axes.length - 1; index >= 0; index -= 1) {
      const axis = this.axes[index] as Axis;
      const position = rest % axis.values.length;
      rest = (rest - position) / axis.values.length;
      const values = axis.values[position] as readonly string[];
      axis.labelNames.forEach((name, at) => {
        labels[name] = values[at] as string;
      });
    }
    return labels;
  }
}

interface MetricText {
  name: string;
  help: string;
}

/** A counter over fixed axes; `add(cell, amount)` is all the request path does. */
export class CounterTable extends Counter<string> {
  private readonly cells: Cells;
  private readonly counts: Float64Array;

  constructor(metric: MetricText, axes: readonly Axis[], registry: Registry) {
    const cells = new Cells(axes);
    super({ ...metric, labelNames: cells.labelNames, registers: [registry] });
    this.cells = cells;
    this.counts = new Float64Array(cells.size);
  }

  add(cell: number, amount = 1): void {
    this.counts[cell] = (this.counts[cell] as number) + amount;
  }

  override async get() {
    // The base answers its name, help, type and aggregator, with no values: nothing is counted through it.
    const metric = await super.get();
    const values: { labels: Record<string, string>; value: number }[] = [];
    this.counts.forEach((value, cell) => {
      if (value !== 0) values.push({ labels: this.cells.labelsOf(cell), value });
    });
    return { ...metric, values };
  }
}

/**
 * A histogram over fixed axes. Buckets are counted apart and made
 * cumulative at the scrape, as the text format wants them.
 */
export class HistogramTable extends Histogram<string> {
  /**
   * The same histogram, registered nowhere and never observed: its `get()`
   * gives the name, help, type and aggregator. This one's own base cannot:
   * its `get()` reads `getForPromString()`, which this class answers.
   */
  private readonly header: Histogram<string>;
  private readonly cells: Cells;
  private readonly bounds: Float64Array;
  /** Per cell, one count per bound (observations above the previous bound, up to this one). */
  private readonly bucketCounts: Float64Array;
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;

  constructor(
    metric: MetricText,
    axes: readonly Axis[],
    buckets: readonly number[],
    registry: Registry,
  ) {
    const cells = new Cells(axes);
    super({
      ...metric,
      labelNames: cells.labelNames,
      buckets: [...buckets],
      registers: [registry],
    });
    this.header = new Histogram({ ...metric, labelNames: cells.labelNames, registers: [] });
    this.cells = cells;
    this.bounds = Float64Array.from(buckets);
    this.bucketCounts = new Float64Array(cells.size * buckets.length);
    this.sums = new Float64Array(cells.size);
    this.counts = new Float64Array(cells.size);
  }

  record(cell: number, value: number): void {
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket += 1;
    if (bucket < bounds.length) {
      const at = cell * bounds.length + bucket;
      this.bucketCounts[at] = (this.bucketCounts[at] as number) + 1;
    }
    this.sums[cell] = (this.sums[cell] as number) + value;
    this.counts[cell] = (this.counts[cell] as number) + 1;
  }

  override async get() {
    const metric = await this.header.get();
    const name = metric.name;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] =
      [];
    const bounds = this.bounds;
    this.counts.forEach((count, cell) => {
      if (count === 0) return;
      const labels = this.cells.labelsOf(cell);
      let cumulative = 0;
      for (let bucket = 0; bucket < bounds.length; bucket += 1) {
        cumulative += this.bucketCounts[cell * bounds.length + bucket] as number;
        values.push({
          labels: { ...labels, le: bounds[bucket] as number },
          value: cumulative,
          metricName: `${name}_bucket`,
        });
      }
      values.push({
        labels: { ...labels, le: "+Inf" },
        value: count,
        metricName: `${name}_bucket`,
      });
      values.push({ labels, value: this.sums[cell] as number, metricName: `${name}_sum` });
      values.push({ labels, value: count, metricName: `${name}_count` });
    });
    return { ...metric, values };
  }

  /**
   * prom-client's Registry asks a histogram for this before `get()` when it
   * writes the text format (prom-client 15); both answer from the arrays.
   */
  getForPromString() {
    return this.get();
  }
}
