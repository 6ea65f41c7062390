// Powertools Metrics behind the core's MetricsSink, for the adapters of the functions that report
// metrics (the delivery worker, the message router): the other bundles leave it out (~12 kB).
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, type MetricsSink } from './core/runtime';

/**
 * The MetricsSink port on Powertools Metrics (Embedded Metric Format in METRICS_NAMESPACE).
 * Each report is published at once as one EMF record: nothing is left for the end of the
 * invocation to flush (a timeout or a crash would lose it), and two reports with different
 * dimensions never share a record.
 */
export function powertoolsMetrics(): MetricsSink {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE });
  // Powertools adds a `service` dimension to every metric by default; CloudWatch tells metrics
  // apart by their whole dimension set, and the dashboards and alarms name them by the report's own.
  metrics.clearDefaultDimensions();
  return (dimensions, measurements) => {
    for (const [name, value] of Object.entries(dimensions)) metrics.addDimension(name, value);
    for (const [name, { unit, values }] of Object.entries(measurements)) {
      for (const value of values) metrics.addMetric(name, unit, value);
    }
    // A report whose every metric is empty publishes nothing, and leaves no dimension behind for the next.
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    else metrics.clearDimensions();
  };
}
