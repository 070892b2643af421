package io.tollgate.gateway.observe;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import io.tollgate.gateway.config.GatewayConfig;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import net.logstash.logback.encoder.LogstashEncoder;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/** logging.format sets the console appender of tollgate's logback.xml: JSON lines or readable ones. */
class LogsTest {

  @Test
  void format_replacesTheConsoleAppender_andJsonLinesHaveTheNamedFields() throws Exception {
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    OutputStreamAppender<ILoggingEvent> console = new OutputStreamAppender<>();
    console.setContext(ctx);
    console.setName(Logs.APPENDER);
    console.setOutputStream(new ByteArrayOutputStream());
    console.setEncoder(Logs.textEncoder(ctx));
    console.start();
    root.addAppender(console);
    try {
      Logs.configure(new GatewayConfig.Logging("text", null));
      assertThat(((OutputStreamAppender<ILoggingEvent>) root.getAppender(Logs.APPENDER)).getEncoder())
          .isInstanceOf(PatternLayoutEncoder.class);
      assertThat(console.isStarted()).as("the one replaced is stopped").isFalse();
      Logs.configure(new GatewayConfig.Logging("json", null));
      assertThat(((OutputStreamAppender<ILoggingEvent>) root.getAppender(Logs.APPENDER)).getEncoder())
          .isInstanceOf(LogstashEncoder.class);
    } finally {
      var added = root.getAppender(Logs.APPENDER);
      root.detachAppender(added);
      added.stop();
    }

    LogstashEncoder json = (LogstashEncoder) Logs.jsonEncoder(ctx);
    MDC.put("request_id", "r-1");
    ch.qos.logback.classic.spi.LoggingEvent event;
    try {
      event = new ch.qos.logback.classic.spi.LoggingEvent(getClass().getName(), ctx.getLogger("io.tollgate.x"),
          ch.qos.logback.classic.Level.WARN, "flush failed {}", new IllegalStateException("boom"), new Object[] {3});
      event.prepareForDeferredProcessing(); // takes the MDC, as an appender does
    } finally {
      MDC.remove("request_id");
    }
    var line = new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(new String(json.encode(event), StandardCharsets.UTF_8));
    assertThat(line.get("timestamp").asText()).endsWith("Z");
    assertThat(line.get("level").asText()).isEqualTo("WARN");
    assertThat(line.get("logger").asText()).isEqualTo("io.tollgate.x");
    assertThat(line.get("thread").asText()).isEqualTo(Thread.currentThread().getName());
    assertThat(line.get("message").asText()).isEqualTo("flush failed 3");
    assertThat(line.get("request_id").asText()).as("MDC entries").isEqualTo("r-1");
    assertThat(line.get("exception").asText()).startsWith("java.lang.IllegalStateException: boom");
    assertThat(line.has("@version")).isFalse();
  }
}
