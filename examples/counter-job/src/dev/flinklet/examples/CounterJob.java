package dev.flinklet.examples;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.ParameterTool;

/**
 * A small stateful streaming job for Flinklet's examples and end-to-end tests.
 *
 * <p>Events 0, 1, 2, ... are generated at {@code --rate} per second and spread over {@code --keys}
 * keys; a keyed {@code ValueState} counts the events of each key, and every update is appended to
 * the file {@code --output} as {@code <key> <count>}. Because the counts live in Flink state, a job
 * restored from a savepoint or checkpoint continues each key's count where it stopped: that is how
 * tests prove state survived an upgrade. With {@code --records N} the job is bounded and finishes.
 * With {@code --tag T} each line ends with {@code T} ({@code <key> <count> <tag>}): a new tag marks
 * the output of a new version of the job.
 *
 * <p>Every operator has a fixed uid, so state maps onto a new version of the job.
 */
public final class CounterJob {
    public static void main(String[] args) throws Exception {
        ParameterTool params = ParameterTool.fromArgs(args);
        long rate = params.getLong("rate", 10);
        int keys = params.getInt("keys", 4);
        long records = params.getLong("records", Long.MAX_VALUE);
        String output = params.getRequired("output");
        String tag = params.get("tag", "");

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        DataGeneratorSource<Long> source = new DataGeneratorSource<>(
                index -> index, records, RateLimiterStrategy.perSecond(rate), Types.LONG);

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "events").uid("events")
                .keyBy(event -> "key-" + (event % keys), Types.STRING)
                .process(new CountPerKey(tag)).uid("count-per-key").name("count-per-key")
                .sinkTo(new AppendToFile(output)).uid("append-to-file").name("append-to-file");

        env.execute("flinklet-counter");
    }

    /** Counts events per key in keyed state and emits {@code <key> <count>} on every event. */
    static final class CountPerKey extends KeyedProcessFunction<String, Long, String> {
        private static final long serialVersionUID = 1L;
        private final String suffix;
        private transient ValueState<Long> count;

        CountPerKey(String tag) {
            this.suffix = tag.isEmpty() ? "" : " " + tag;
        }

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
        }

        @Override
        public void processElement(Long event, Context context, Collector<String> out) throws Exception {
            Long current = count.value();
            long next = (current == null ? 0 : current) + 1;
            count.update(next);
            out.collect(context.getCurrentKey() + " " + next + suffix);
        }
    }

    /** Appends each line to a local file with one write per line (O_APPEND), so parallel writers never interleave within a line. */
    static final class AppendToFile implements Sink<String> {
        private static final long serialVersionUID = 1L;
        private final String path;

        AppendToFile(String path) {
            this.path = path;
        }

        @Override
        public SinkWriter<String> createWriter(WriterInitContext context) throws IOException {
            java.io.File parent = new java.io.File(path).getAbsoluteFile().getParentFile();
            if (parent != null && !parent.isDirectory() && !parent.mkdirs() && !parent.isDirectory()) {
                throw new IOException("cannot create the output directory " + parent);
            }
            FileOutputStream stream = new FileOutputStream(path, true);
            return new SinkWriter<String>() {
                @Override
                public void write(String element, Context context) throws IOException {
                    stream.write((element + "\n").getBytes(StandardCharsets.UTF_8));
                }

                @Override
                public void flush(boolean endOfInput) throws IOException {
                    stream.flush();
                }

                @Override
                public void close() throws IOException {
                    stream.close();
                }
            };
        }
    }
}
