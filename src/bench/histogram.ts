/** Latency histograms (HdrHistogram, 3 significant digits), recorded in microseconds, reported in ms. */
import hdr from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Percentiles at which the CDF is sampled for charts (dense in the tail). */
const CDF_PERCENTILES = [
  0, 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99, 99.5, 99.7, 99.8, 99.9, 99.95, 99.99, 100,
];

export class LatencyHistogram {
  private readonly h: hdr.Histogram;
  constructor() {
    this.h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  }
  /** Record one latency given in ms (fractions kept to the µs). */
  recordMs(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * 1000)));
  }
  get count(): number {
    return this.h.totalCount;
  }
  percentileMs(p: number): number {
    return this.h.totalCount === 0 ? 0 : this.h.getValueAtPercentile(p) / 1000;
  }
  summary(): LatencySummary {
    const r = (v: number): number => Math.round(v * 1000) / 1000;
    return {
      count: this.h.totalCount,
      meanMs: r(this.h.totalCount ? this.h.mean / 1000 : 0),
      p50Ms: r(this.percentileMs(50)),
      p90Ms: r(this.percentileMs(90)),
      p99Ms: r(this.percentileMs(99)),
      p999Ms: r(this.percentileMs(99.9)),
      maxMs: r(this.h.totalCount ? this.h.maxValue / 1000 : 0),
    };
  }
  /** [latency ms, cumulative fraction] points. */
  cdf(): Array<[number, number]> {
    if (this.h.totalCount === 0) return [];
    return CDF_PERCENTILES.map((p) => [Math.round(this.percentileMs(p === 0 ? 0.0001 : p) * 1000) / 1000, Math.round(p * 100) / 10000]);
  }
  add(other: LatencyHistogram): void {
    this.h.add(other.h);
  }
  reset(): void {
    this.h.reset();
  }
}
