package dev.flinklet.examples;

import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;

/**
 * A small stateful streaming job for Flinklet's examples and end-to-end tests.
 *
 * <p>Events 0, 1, 2, ... are generated at {@code --rate} per second and spread over {@code --keys}
 * keys; a keyed {@code ValueState} counts the events of each key, and every update is appended to
 * the file {@code --output} as {@code <key> <count>}. Because the counts live in Flink state, a job
 * restored from a savepoint or checkpoint continues each key's count where it stopped: that is how
 * tests prove state survived an upgrade. With {@code --records N} the job is bounded and finishes.
 * With {@code --tag T} each line ends with {@code T} ({@code <key> <count> <tag>}): a new tag marks
 * the output of a new version of the job; {@code %v} in it is the version of the Flink that runs it
 * ({@code --tag flink-%v} writes {@code flink-2.3.0}).
 *
 * <p>Every operator has a fixed uid, so state maps onto a new version of the job.
 */
public final class CounterJob {
    public static void main(String[] args) throws Exception {
        Map<String, String> params = options(args);
        long rate = Long.parseLong(params.getOrDefault("rate", "10"));
        int keys = Integer.parseInt(params.getOrDefault("keys", "4"));
        long records = params.containsKey("records") ? Long.parseLong(params.get("records")) : Long.MAX_VALUE;
        String output = params.get("output");
        if (output == null) {
            throw new IllegalArgumentException("--output is required");
        }
        String tag = params.getOrDefault("tag", "");

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        DataGeneratorSource<Long> source = new DataGeneratorSource<>(
                index -> index, records, RateLimiterStrategy.perSecond(rate), Types.LONG);

        env.fromSource(source, WatermarkStrategy.noWatermarks(), "events").uid("events")
                .keyBy(event -> "key-" + (event % keys), Types.STRING)
                .process(new CountPerKey(tag)).uid("count-per-key").name("count-per-key")
                .process(new AppendToFile(output), Types.VOID).uid("append-to-file").name("append-to-file");

        env.execute("flinklet-counter");
    }

    /**
     * {@code --name value} pairs. Our own rather than Flink's {@code ParameterTool}, which moved
     * between versions ({@code org.apache.flink.api.java.utils} up to 1.20, {@code
     * org.apache.flink.util} from 2.0): the same source builds for every supported Flink.
     */
    static Map<String, String> options(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + args[i]);
            }
            String name = args[i].substring(2);
            String value = i + 1 < args.length && !args[i + 1].startsWith("--") ? args[++i] : "";
            options.put(name, value);
        }
        return options;
    }

    /** Counts events per key in keyed state and emits {@code <key> <count>} on every event. */
    static final class CountPerKey extends KeyedProcessFunction<String, Long, String> {
        private static final long serialVersionUID = 1L;
        private final String tag;
        private transient String suffix;
        private transient ValueState<Long> count;

        CountPerKey(String tag) {
            this.tag = tag;
        }

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            // "%v" is the version of the Flink that runs this task (not the one that built or
            // submitted the job): a job moved to another version says so in its own output.
            suffix = tag.isEmpty() ? "" : " " + tag.replace("%v", EnvironmentInformation.getVersion());
        }

        @Override
        public void processElement(Long event, Context context, Collector<String> out) throws Exception {
            Long current = count.value();
            long next = (current == null ? 0 : current) + 1;
            count.update(next);
            out.collect(context.getCurrentKey() + " " + next + suffix);
        }
    }

    /**
     * Appends each line to a local file with one write per line (O_APPEND), so parallel writers
     * never interleave within a line. A process function rather than a Sink V2 sink: the sink's
     * writer hook changed between versions ({@code createWriter(InitContext)} up to 1.20, {@code
     * createWriter(WriterInitContext)} from 2.0), a process function's {@code open(OpenContext)}
     * did not, so one source builds for every supported Flink.
     */
    static final class AppendToFile extends ProcessFunction<String, Void> {
        private static final long serialVersionUID = 1L;
        private final String path;
        private transient FileOutputStream stream;

        AppendToFile(String path) {
            this.path = path;
        }

        @Override
        public void open(OpenContext context) throws IOException {
            java.io.File parent = new java.io.File(path).getAbsoluteFile().getParentFile();
            if (parent != null && !parent.isDirectory() && !parent.mkdirs() && !parent.isDirectory()) {
                throw new IOException("cannot create the output directory " + parent);
            }
            stream = new FileOutputStream(path, true);
        }

        @Override
        public void processElement(String line, Context context, Collector<Void> out) throws IOException {
            stream.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public void close() throws IOException {
            if (stream != null) {
                stream.close();
            }
        }
    }
}
