package io.tollgate.gateway.observe;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.io.SerializedString;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.config.ConfigException;
import io.tollgate.gateway.config.GatewayConfig;
import io.tollgate.metering.health.TaskHealth;
import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The access log: one JSON line per ended buyer call, to stdout or a file as {@code logging.access}
 * says. With {@code logging.access: off} no AccessLog exists and the buyer port does nothing per
 * call for it.
 *
 * <p>A line holds {@code timestamp} (UTC, milliseconds, when the call ended), {@code
 * "type":"access"} and exactly the fields of {@link CallSummary} the operator needs: {@code
 * request_id}, {@code subscription_id}, {@code product_id}, {@code sku_id}, {@code model}, {@code
 * method}, {@code path}, {@code status}, {@code upstream_status}, {@code duration_ms}, {@code
 * ttft_ms}, {@code input_tokens}, {@code output_tokens}, {@code estimated}, {@code bytes_out},
 * {@code endpoint}. Durations are milliseconds with three decimals (microseconds: a fast call takes
 * well under a millisecond); {@code ttft_ms} is null when no answer byte came, as are ids not known
 * for a refused call. A summary holds no key, token or body, so no line can.
 *
 * <p>Off the event loop, and cheap on it: {@link #ended} only offers the summary and the time to a
 * bounded queue ({@value #QUEUE_SIZE} lines) and never waits. One writer thread of its own drains
 * the queue every {@value #DRAIN_MILLIS} ms, encodes the lines with one reused Jackson generator
 * into one reused buffer (field names quoted and encoded once, as {@code SerializedString}s: an
 * encoder-only loop went from ~0.8-1.4 to ~0.6-0.9 us of CPU per 420-byte line, the same bytes
 * out) and hands the batch to the output in one write: no per-call logging event,
 * encoder or system call (the first version went through Logback's async appender and the
 * logstash encoder, one event and one write per call, and cost 16% of the buyer port's
 * throughput). When the queue is full the line is dropped and counted ({@code
 * tollgate.access.dropped}); a call never waits for its log line.
 *
 * <p>The writer reports to {@link TaskHealth} as task {@value #TASK}: an output that cannot be
 * written (a full disk, a closed stdout) makes it failing in {@code /health/ready} and {@code
 * tollgate_task_failures_total}, logged at most once a minute, and the batch is dropped and
 * counted; it keeps running and writes again once it can. It does not take the instance out of
 * rotation: calls are metered whether or not their access lines are written.
 *
 * <p>{@link #close} writes what is queued (waiting up to a second) and stops the writer.
 */
public final class AccessLog implements CallObserver, AutoCloseable {

  public static final String TASK = "access-log";
  static final int QUEUE_SIZE = 8192;
  static final long DRAIN_MILLIS = 5;
  private static final int MAX_MODEL_CHARS = 200;
  private static final long ERROR_LOG_EVERY_MILLIS = 60_000;
  private static final JsonFactory JSON = JsonFactory.builder().build();
  private static final char[] HEX = "0123456789abcdef".toCharArray();
  private static final Logger log = LoggerFactory.getLogger(AccessLog.class);
  /** The field names, quoted and encoded once rather than per line. */
  private static final SerializedString TIMESTAMP = new SerializedString("timestamp");
  private static final SerializedString REQUEST_ID = new SerializedString("request_id");
  private static final SerializedString SUBSCRIPTION_ID = new SerializedString("subscription_id");
  private static final SerializedString PRODUCT_ID = new SerializedString("product_id");
  private static final SerializedString SKU_ID = new SerializedString("sku_id");
  private static final SerializedString MODEL = new SerializedString("model");
  private static final SerializedString METHOD = new SerializedString("method");
  private static final SerializedString PATH = new SerializedString("path");
  private static final SerializedString STATUS = new SerializedString("status");
  private static final SerializedString UPSTREAM_STATUS = new SerializedString("upstream_status");
  private static final SerializedString DURATION_MS = new SerializedString("duration_ms");
  private static final SerializedString TTFT_MS = new SerializedString("ttft_ms");
  private static final SerializedString INPUT_TOKENS = new SerializedString("input_tokens");
  private static final SerializedString OUTPUT_TOKENS = new SerializedString("output_tokens");
  private static final SerializedString ESTIMATED = new SerializedString("estimated");
  private static final SerializedString BYTES_OUT = new SerializedString("bytes_out");
  private static final SerializedString ENDPOINT = new SerializedString("endpoint");
  private static final SerializedString TYPE = new SerializedString("type");
  private static final SerializedString ACCESS = new SerializedString("access");

  /** One queued line: the summary and the wall-clock time the call ended. */
  private record Line(long endedAtMillis, CallSummary call) {}

  private final ArrayBlockingQueue<Line> queue;
  private final OutputStream out;
  private final boolean closeOut;
  private final TaskHealth.Task task;
  private final LongAdder dropped = new LongAdder();
  private final Thread writer;
  private volatile boolean closing;

  AccessLog(OutputStream out, boolean closeOut, int capacity, TaskHealth.Task task, String name) {
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.out = out;
    this.closeOut = closeOut;
    this.task = task;
    this.writer = new Thread(new Writer(), name);
    writer.setDaemon(true);
    writer.start();
  }

  /**
   * The access log {@code logging.access} asks for, started, its drop counter registered; null
   * when it is {@code off}.
   *
   * @param health where the writer reports; null for none (tests)
   * @throws ConfigException naming {@code logging.access} when its file cannot be opened
   */
  public static AccessLog open(GatewayConfig.Logging logging, MeterRegistry registry, TaskHealth health) {
    if (logging.accessOff()) {
      return null;
    }
    Path file = logging.accessFile();
    AccessLog access;
    if (file == null) {
      // Whatever System.out is when the gateway starts (a test may have redirected it).
      PrintStream stdout = System.out;
      access = new AccessLog(stdout, false, QUEUE_SIZE, task(health), "tollgate-access-log");
    } else {
      access = new AccessLog(append(file), true, QUEUE_SIZE, task(health), "tollgate-access-log");
    }
    if (registry != null) {
      FunctionCounter.builder("tollgate.access.dropped", access, AccessLog::dropped)
          .description("access log lines dropped because the access log's queue was full or its output failed")
          .register(registry);
    }
    return access;
  }

  /** As {@link #open(GatewayConfig.Logging, MeterRegistry, TaskHealth)}, reporting nowhere. */
  public static AccessLog open(GatewayConfig.Logging logging, MeterRegistry registry) {
    return open(logging, registry, null);
  }

  private static TaskHealth.Task task(TaskHealth health) {
    // No deadline: an output that blocks (a stdout pipe nobody reads) shows as dropped lines, and
    // must not take the instance out of rotation.
    return health == null ? null : health.task(TASK, null);
  }

  private static OutputStream append(Path file) {
    Path absolute = file.toAbsolutePath();
    try {
      if (absolute.getParent() != null) {
        Files.createDirectories(absolute.getParent());
      }
      return new FileOutputStream(absolute.toFile(), true);
    } catch (IOException e) {
      throw new ConfigException("logging.access", "cannot write the access log to " + absolute + ": " + e);
    }
  }

  /** On the call's thread: offers the line to the queue; never waits, never makes a system call. */
  @Override
  public void ended(CallSummary call) {
    if (!queue.offer(new Line(System.currentTimeMillis(), call))) {
      dropped.increment();
    }
  }

  /**
   * An access log writing to {@code out} (left open by {@link #close}), its queue {@value
   * #QUEUE_SIZE} lines, reporting nowhere: for benchmarks and embedding applications.
   */
  public static AccessLog writingTo(OutputStream out) {
    return new AccessLog(out, false, QUEUE_SIZE, null, "tollgate-access-log");
  }

  /** Lines waiting for the writer. */
  public int queued() {
    return queue.size();
  }

  /** Lines dropped so far because the queue was full or the output failed. */
  public double dropped() {
    return dropped.sum();
  }

  /** Writes what is queued (waiting up to a second) and stops. */
  @Override
  public void close() {
    closing = true;
    LockSupport.unpark(writer);
    try {
      writer.join(1_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (closeOut) {
      try {
        out.close();
      } catch (IOException e) {
        log.warn("closing the access log: {}", e.toString());
      }
    }
  }

  /** The writer thread: drain, encode, one write, sleep. */
  private final class Writer implements Runnable {
    private final List<Line> batch = new ArrayList<>(1024);
    private final Buffer buffer = new Buffer();
    private final Encoder encoder = new Encoder(buffer);
    private long lastErrorLogged = Long.MIN_VALUE / 2;

    @Override
    public void run() {
      while (true) {
        boolean last = closing;
        if (queue.drainTo(batch, 1024) > 0) {
          write();
          continue; // more may be queued: drain again before sleeping
        }
        if (last) {
          return;
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(DRAIN_MILLIS));
      }
    }

    private void write() {
      int n = batch.size();
      try {
        buffer.reset();
        for (int i = 0; i < n; i++) {
          Line line = batch.get(i);
          encoder.line(line.endedAtMillis(), line.call());
        }
        encoder.flush();
        out.write(buffer.bytes(), 0, buffer.size());
        out.flush();
        if (task != null) {
          task.succeeded();
        }
      } catch (Exception | LinkageError e) {
        dropped.add(n);
        encoder.reset();
        if (task != null) {
          task.failed(e, TaskHealth.Cause.DEPENDENCY);
        }
        long now = System.currentTimeMillis();
        if (now - lastErrorLogged >= ERROR_LOG_EVERY_MILLIS) {
          lastErrorLogged = now;
          log.warn("access log: {} lines not written: {}", n, e.toString());
        }
      } finally {
        batch.clear();
      }
    }
  }

  /** A byte buffer whose array is reused from batch to batch. */
  static final class Buffer extends ByteArrayOutputStream {
    Buffer() {
      super(64 * 1024);
    }

    byte[] bytes() {
      return buf;
    }
  }

  /**
   * Encodes lines with one Jackson generator over the writer's buffer (Jackson escapes what the
   * buyer sent, such as the model). Used by the writer thread only.
   */
  static final class Encoder {
    private final OutputStream target;
    private JsonGenerator g;
    private final char[] scratch = new char[64];
    private long second = Long.MIN_VALUE;
    private char[] secondPrefix;

    Encoder(OutputStream target) {
      this.target = target;
      reset();
    }

    /** A fresh generator (after a failure left the old one in an unknown state). */
    void reset() {
      try {
        g = JSON.createGenerator(target);
      } catch (IOException e) {
        throw new IllegalStateException(e);
      }
      g.disable(JsonGenerator.Feature.AUTO_CLOSE_TARGET);
      g.setRootValueSeparator(null);
    }

    void flush() throws IOException {
      g.flush();
    }

    void line(long endedAtMillis, CallSummary c) throws IOException {
      g.writeStartObject();
      g.writeFieldName(TIMESTAMP);
      g.writeString(scratch, 0, timestamp(endedAtMillis));
      g.writeFieldName(TYPE);
      g.writeString(ACCESS);
      g.writeFieldName(REQUEST_ID);
      if (c.requestId() == null) {
        g.writeNull();
      } else {
        g.writeString(scratch, 0, uuid(c.requestId()));
      }
      string(SUBSCRIPTION_ID, c.subscriptionId());
      string(PRODUCT_ID, c.productId());
      string(SKU_ID, c.skuId());
      String model = c.model();
      // As the buyer sent it: bounded, so a line stays short.
      string(MODEL, model != null && model.length() > MAX_MODEL_CHARS
          ? model.substring(0, MAX_MODEL_CHARS) : model);
      string(METHOD, c.method());
      String path = c.path();
      int query = path == null ? -1 : path.indexOf('?');
      // The summary's path has no query already; a query may hold a key, so make sure.
      string(PATH, query < 0 ? path : path.substring(0, query));
      g.writeFieldName(STATUS);
      g.writeNumber(c.status());
      g.writeFieldName(UPSTREAM_STATUS);
      g.writeNumber(c.upstreamStatus());
      g.writeFieldName(DURATION_MS);
      g.writeRawValue(scratch, 0, millis(c.durationNanos()));
      g.writeFieldName(TTFT_MS);
      if (c.ttftNanos() < 0) {
        g.writeNull();
      } else {
        g.writeRawValue(scratch, 0, millis(c.ttftNanos()));
      }
      g.writeFieldName(INPUT_TOKENS);
      g.writeNumber(c.inputTokens());
      g.writeFieldName(OUTPUT_TOKENS);
      g.writeNumber(c.outputTokens());
      g.writeFieldName(ESTIMATED);
      g.writeBoolean(c.estimated());
      g.writeFieldName(BYTES_OUT);
      g.writeNumber(c.bytesOut());
      string(ENDPOINT, c.endpoint());
      g.writeEndObject();
      g.writeRaw('\n');
    }

    /** A string field, or null; the name already quoted and encoded. */
    private void string(SerializedString name, String value) throws IOException {
      g.writeFieldName(name);
      if (value == null) {
        g.writeNull();
      } else {
        g.writeString(value);
      }
    }

    /**
     * {@code 2026-12-02T00:05:01.123Z} into {@link #scratch}, its length returned; the part up to
     * the second is made once a second.
     */
    int timestamp(long millis) {
      long s = Math.floorDiv(millis, 1000);
      if (s != second) {
        second = s;
        String prefix = LocalDateTime.ofEpochSecond(s, 0, ZoneOffset.UTC).toString();
        if (prefix.length() == 16) {
          prefix += ":00"; // LocalDateTime leaves out zero seconds
        }
        secondPrefix = prefix.toCharArray();
      }
      int n = secondPrefix.length;
      System.arraycopy(secondPrefix, 0, scratch, 0, n);
      int ms = Math.floorMod(millis, 1000);
      scratch[n++] = '.';
      scratch[n++] = (char) ('0' + ms / 100);
      scratch[n++] = (char) ('0' + ms / 10 % 10);
      scratch[n++] = (char) ('0' + ms % 10);
      scratch[n++] = 'Z';
      return n;
    }

    /** The UUID's canonical form into {@link #scratch}; 36 chars. */
    int uuid(UUID id) {
      hex(id.getMostSignificantBits() >>> 32, 8, 0);
      scratch[8] = '-';
      hex(id.getMostSignificantBits() >>> 16, 4, 9);
      scratch[13] = '-';
      hex(id.getMostSignificantBits(), 4, 14);
      scratch[18] = '-';
      hex(id.getLeastSignificantBits() >>> 48, 4, 19);
      scratch[23] = '-';
      hex(id.getLeastSignificantBits(), 12, 24);
      return 36;
    }

    private void hex(long bits, int digits, int at) {
      for (int i = digits - 1; i >= 0; i--) {
        scratch[at + i] = HEX[(int) (bits & 0xF)];
        bits >>>= 4;
      }
    }

    /** Milliseconds with three decimals ({@code 12.345}, {@code 0.150}) into {@link #scratch}. */
    int millis(long nanos) {
      long micros = Math.max(0, nanos / 1_000);
      long whole = micros / 1_000;
      int frac = (int) (micros % 1_000);
      int n = 0;
      if (whole == 0) {
        scratch[n++] = '0';
      } else {
        int start = n;
        for (long w = whole; w > 0; w /= 10) {
          scratch[n++] = (char) ('0' + w % 10);
        }
        for (int i = start, j = n - 1; i < j; i++, j--) {
          char t = scratch[i];
          scratch[i] = scratch[j];
          scratch[j] = t;
        }
      }
      scratch[n++] = '.';
      scratch[n++] = (char) ('0' + frac / 100);
      scratch[n++] = (char) ('0' + frac / 10 % 10);
      scratch[n++] = (char) ('0' + frac % 10);
      return n;
    }
  }
}
