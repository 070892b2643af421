package io.tollgate.gateway.observe;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.FileAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.filter.Filter;
import ch.qos.logback.core.spi.FilterReply;
import com.fasterxml.jackson.core.JsonGenerator;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.config.ConfigException;
import io.tollgate.gateway.config.GatewayConfig;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import net.logstash.logback.composite.AbstractJsonProvider;
import net.logstash.logback.composite.loggingevent.LoggingEventFormattedTimestampJsonProvider;
import net.logstash.logback.composite.loggingevent.LoggingEventJsonProviders;
import net.logstash.logback.encoder.LoggingEventCompositeJsonEncoder;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;
import org.slf4j.MarkerFactory;

/**
 * The access log: one JSON line per ended buyer call, on logger {@code tollgate.access}
 * (additivity false, so access lines never mix into the application log), to stdout or a file as
 * {@code logging.access} says. With {@code logging.access: off} no AccessLog exists and the buyer
 * port does nothing per call for it.
 *
 * <p>A line holds {@code timestamp}, {@code "type":"access"} and exactly the fields of {@link
 * CallSummary} the operator needs: {@code request_id}, {@code subscription_id}, {@code
 * product_id}, {@code sku_id}, {@code model}, {@code method}, {@code path}, {@code status}, {@code
 * upstream_status}, {@code duration_ms}, {@code ttft_ms}, {@code input_tokens}, {@code
 * output_tokens}, {@code estimated}, {@code bytes_out}, {@code endpoint}. Durations are
 * milliseconds with three decimals (microseconds: a fast call takes well under a millisecond);
 * {@code ttft_ms} is null when no answer byte came, as are ids not known for a refused call. A
 * summary holds no key, token or body, so no line can.
 *
 * <p>Off the event loop: {@link #ended} only builds Logback's event and offers it to an {@link
 * AsyncAppender} with a bounded queue ({@value #QUEUE_SIZE} lines) that never blocks; the JSON is
 * written by the appender's own thread. When that queue is full the line is dropped and counted
 * ({@code tollgate.access.dropped}); a call never waits for its log line. The count is taken when
 * the queue is seen full; two event loops racing for its last slot may drop one line uncounted.
 *
 * <p>Each instance tags its events with a marker of its own and its appender takes only those, so
 * two gateways in one JVM (tests) each log their own calls. {@link #close} drains the queue (up to
 * one second) and detaches the appender.
 */
public final class AccessLog implements CallObserver, AutoCloseable {

  public static final String LOGGER = "tollgate.access";
  static final int QUEUE_SIZE = 8192;
  private static final String MESSAGE = "access";
  private static final int MAX_MODEL_CHARS = 200;
  private static final AtomicInteger INSTANCES = new AtomicInteger();

  private final Logger logger;
  private final Marker marker;
  private final CountingAsyncAppender appender;

  private AccessLog(Logger logger, Marker marker, CountingAsyncAppender appender) {
    this.logger = logger;
    this.marker = marker;
    this.appender = appender;
  }

  /**
   * The access log {@code logging.access} asks for, started, its drop counter registered; null
   * when it is {@code off} (or SLF4J is not bound to Logback, which an embedding application may
   * choose).
   *
   * @throws ConfigException naming {@code logging.access} when its file cannot be opened
   */
  public static AccessLog open(GatewayConfig.Logging logging, MeterRegistry registry) {
    if (logging.accessOff() || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return null;
    }
    int n = INSTANCES.incrementAndGet();
    Marker marker = MarkerFactory.getDetachedMarker(LOGGER + "-" + n);
    OutputStreamAppender<ILoggingEvent> out = output(ctx, logging.accessFile());
    out.setName(LOGGER + "-out-" + n);
    out.setEncoder(encoder(ctx));
    out.start();
    if (!out.isStarted()) {
      throw new ConfigException("logging.access", "cannot write the access log to " + logging.accessFile());
    }
    CountingAsyncAppender async = new CountingAsyncAppender();
    async.setContext(ctx);
    async.setName(LOGGER + "-" + n);
    async.setQueueSize(QUEUE_SIZE);
    async.setNeverBlock(true);
    // Consulted only when the queue has no room left: see CountingAsyncAppender.
    async.setDiscardingThreshold(1);
    async.setIncludeCallerData(false);
    async.addFilter(new OwnMarker(marker));
    async.addAppender(out);
    async.start();
    Logger logger = ctx.getLogger(LOGGER);
    logger.setAdditive(false);
    if (logger.getLevel() == null) {
      logger.setLevel(Level.INFO);
    }
    logger.addAppender(async);
    if (registry != null) {
      FunctionCounter.builder("tollgate.access.dropped", async, CountingAsyncAppender::dropped)
          .description("access log lines dropped because the access log's queue was full").register(registry);
    }
    return new AccessLog(logger, marker, async);
  }

  private static OutputStreamAppender<ILoggingEvent> output(LoggerContext ctx, Path file) {
    if (file == null) {
      ConsoleAppender<ILoggingEvent> stdout = new ConsoleAppender<>();
      stdout.setContext(ctx);
      stdout.setTarget("System.out");
      return stdout;
    }
    Path absolute = file.toAbsolutePath();
    try {
      if (absolute.getParent() != null) {
        Files.createDirectories(absolute.getParent());
      }
    } catch (IOException e) {
      throw new ConfigException("logging.access", "cannot create the directory of " + absolute + ": " + e);
    }
    FileAppender<ILoggingEvent> appender = new FileAppender<>();
    appender.setContext(ctx);
    appender.setFile(absolute.toString());
    appender.setAppend(true);
    return appender;
  }

  private static LoggingEventCompositeJsonEncoder encoder(LoggerContext ctx) {
    LoggingEventJsonProviders providers = new LoggingEventJsonProviders();
    LoggingEventFormattedTimestampJsonProvider timestamp = new LoggingEventFormattedTimestampJsonProvider();
    timestamp.setFieldName("timestamp");
    timestamp.setTimeZone("UTC");
    providers.addTimestamp(timestamp);
    providers.addProvider(new AccessLine());
    LoggingEventCompositeJsonEncoder encoder = new LoggingEventCompositeJsonEncoder();
    encoder.setContext(ctx);
    encoder.setProviders(providers);
    encoder.start();
    return encoder;
  }

  /** On the call's thread: builds the event and offers it to the queue; never waits. */
  @Override
  public void ended(CallSummary call) {
    logger.info(marker, MESSAGE, call);
  }

  /** Lines dropped so far because the queue was full. */
  public long dropped() {
    return (long) appender.dropped();
  }

  /** Writes what is queued (waiting up to a second) and stops. */
  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
  }

  /** Takes only the events of one AccessLog. */
  private static final class OwnMarker extends Filter<ILoggingEvent> {
    private final Marker marker;

    OwnMarker(Marker marker) {
      this.marker = marker;
    }

    @Override
    public FilterReply decide(ILoggingEvent event) {
      List<Marker> markers = event.getMarkerList();
      return markers != null && markers.contains(marker) ? FilterReply.NEUTRAL : FilterReply.DENY;
    }
  }

  /**
   * Logback's async appender, counting what it drops. {@code AsyncAppenderBase.append} asks
   * {@link #isDiscardable} only while the queue's free room is under the discarding threshold; at
   * a threshold of 1 that is when it is full, the one case where it would otherwise drop the line
   * silently ({@code neverBlock}).
   */
  static final class CountingAsyncAppender extends AsyncAppender {
    private final LongAdder dropped = new LongAdder();

    @Override
    protected boolean isDiscardable(ILoggingEvent event) {
      dropped.increment();
      return true;
    }

    double dropped() {
      return dropped.sum();
    }
  }

  /** Writes a summary's fields; runs on the appender's thread. */
  static final class AccessLine extends AbstractJsonProvider<ILoggingEvent> {

    @Override
    public void writeTo(JsonGenerator g, ILoggingEvent event) throws IOException {
      Object[] args = event.getArgumentArray();
      if (args == null || args.length == 0 || !(args[0] instanceof CallSummary c)) {
        return;
      }
      g.writeStringField("type", "access");
      g.writeStringField("request_id", c.requestId() == null ? null : c.requestId().toString());
      g.writeStringField("subscription_id", c.subscriptionId());
      g.writeStringField("product_id", c.productId());
      g.writeStringField("sku_id", c.skuId());
      String model = c.model();
      // As the buyer sent it: bounded, so a line stays a line.
      g.writeStringField("model", model != null && model.length() > MAX_MODEL_CHARS
          ? model.substring(0, MAX_MODEL_CHARS) : model);
      g.writeStringField("method", c.method());
      String path = c.path();
      int query = path == null ? -1 : path.indexOf('?');
      // The summary's path has no query already; a query may hold a key, so make sure.
      g.writeStringField("path", query < 0 ? path : path.substring(0, query));
      g.writeNumberField("status", c.status());
      g.writeNumberField("upstream_status", c.upstreamStatus());
      g.writeFieldName("duration_ms");
      g.writeNumber(millis(c.durationNanos()));
      g.writeFieldName("ttft_ms");
      if (c.ttftNanos() < 0) {
        g.writeNull();
      } else {
        g.writeNumber(millis(c.ttftNanos()));
      }
      g.writeNumberField("input_tokens", c.inputTokens());
      g.writeNumberField("output_tokens", c.outputTokens());
      g.writeBooleanField("estimated", c.estimated());
      g.writeNumberField("bytes_out", c.bytesOut());
      g.writeStringField("endpoint", c.endpoint());
    }

    /** Milliseconds with three decimals. */
    static BigDecimal millis(long nanos) {
      return BigDecimal.valueOf(nanos / 1_000, 3);
    }
  }
}
