package dev.flinklet.metrics;

import io.prometheus.client.CollectorRegistry;
import io.prometheus.client.exporter.HTTPServer;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.util.Properties;
import org.apache.flink.metrics.prometheus.AbstractPrometheusReporter;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

/**
 * Flink's Prometheus reporter (the distribution's {@code plugins/metrics-prometheus}), serving
 * {@code /metrics} on one address only: {@code metrics.reporter.<name>.host} (default
 * {@code 127.0.0.1}) and {@code metrics.reporter.<name>.port}. Flink 2.3's own
 * {@code PrometheusReporterFactory} takes no host and binds every interface; Flinklet keeps
 * every process on loopback.
 */
public final class LoopbackPrometheusReporterFactory implements MetricReporterFactory {
    @Override
    public MetricReporter createMetricReporter(Properties properties) {
        String host = properties.getProperty("host", "127.0.0.1").trim();
        int port = Integer.parseInt(properties.getProperty("port", "9249").trim());
        return new LoopbackPrometheusReporter(host, port);
    }

    /** The metrics Flink's reporter collects, served by a server of its own on host:port. */
    static final class LoopbackPrometheusReporter extends AbstractPrometheusReporter {
        private final HTTPServer server;

        LoopbackPrometheusReporter(String host, int port) {
            try {
                // The collector registry the base class fills (package-private there).
                Field field = AbstractPrometheusReporter.class.getDeclaredField("registry");
                field.setAccessible(true);
                server = new HTTPServer(new InetSocketAddress(host, port), (CollectorRegistry) field.get(this), true);
            } catch (ReflectiveOperationException | IOException e) {
                throw new RuntimeException("cannot serve Prometheus metrics on " + host + ":" + port, e);
            }
            log.info("Started the loopback Prometheus reporter on {}:{}.", host, port);
        }

        @Override
        public void close() {
            server.stop();
            super.close();
        }
    }
}
