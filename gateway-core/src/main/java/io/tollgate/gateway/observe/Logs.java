package io.tollgate.gateway.observe;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import io.tollgate.gateway.config.GatewayConfig;
import net.logstash.logback.encoder.LogstashEncoder;
import net.logstash.logback.fieldnames.LogstashFieldNames;
import org.slf4j.LoggerFactory;

/**
 * The application log's format, set from {@code logging.format} once the config is loaded.
 *
 * <p>Until then {@code logback.xml} (on the classpath) logs JSON lines to stderr with the same
 * fields, so a failure while reading the config looks like every other line. Application lines go
 * to stderr, as they always did; stdout carries the commands' own output and, by default, the
 * access log ({@link AccessLog}), whose lines say {@code "type":"access"}.
 *
 * <p>Only the root logger's appender named {@code console}, the one of tollgate's {@code
 * logback.xml}, is replaced: logger levels stay as that file sets them (Netty, Vert.x, Hikari,
 * Flyway, Lettuce and H2 at WARN). A configuration without it (the operator's own, named with
 * {@code -Dlogback.configurationFile}, or the tests' {@code logback-test.xml}) is left as it is,
 * as is another SLF4J backend.
 */
public final class Logs {

  static final String APPENDER = "console";
  static final String TEXT_PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSX,UTC} %-5level [%thread] %logger{36} - %msg%n";

  private Logs() {}

  /** Sets the root logger's console appender to {@code logging.format}. */
  public static void configure(GatewayConfig.Logging logging) {
    if (System.getProperty("logback.configurationFile") != null
        || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
      return;
    }
    Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    var old = root.getAppender(APPENDER);
    if (old == null) {
      return;
    }
    ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
    console.setContext(ctx);
    console.setName(APPENDER);
    console.setTarget("System.err");
    console.setEncoder(logging.json() ? jsonEncoder(ctx) : textEncoder(ctx));
    console.start();
    root.addAppender(console);
    root.detachAppender(old);
    old.stop();
  }

  /** An application line as JSON: timestamp, level, logger, thread, message, MDC, exception. */
  static Encoder<ILoggingEvent> jsonEncoder(LoggerContext ctx) {
    LogstashEncoder json = new LogstashEncoder();
    json.setContext(ctx);
    json.setFieldNames(fieldNames());
    json.setIncludeContext(false);
    json.setTimeZone("UTC");
    json.start();
    return json;
  }

  /** The field names of {@code logback.xml}'s encoder. */
  static LogstashFieldNames fieldNames() {
    LogstashFieldNames names = new LogstashFieldNames();
    names.setTimestamp("timestamp");
    names.setVersion(LogstashFieldNames.IGNORE_FIELD_INDICATOR);
    names.setLevelValue(LogstashFieldNames.IGNORE_FIELD_INDICATOR);
    names.setLogger("logger");
    names.setThread("thread");
    names.setStackTrace("exception");
    return names;
  }

  static Encoder<ILoggingEvent> textEncoder(LoggerContext ctx) {
    PatternLayoutEncoder text = new PatternLayoutEncoder();
    text.setContext(ctx);
    text.setPattern(TEXT_PATTERN);
    text.start();
    return text;
  }
}
