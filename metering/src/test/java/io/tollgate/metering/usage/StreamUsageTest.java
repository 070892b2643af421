package io.tollgate.metering.usage;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StreamUsageTest {

  @Test
  void streamWithoutStreamOptions_getsIncludeUsage_andKeepsOtherFields() {
    StreamUsage.Rewrite rewrite =
        rewrite("{\"model\":\"gpt-4o\",\"stream\":true,\"temperature\":0.70,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertThat(rewrite.usageAdded()).isTrue();
    assertThat(string(rewrite.body()))
        .as("fields and their order and number spelling are kept")
        .isEqualTo("{\"model\":\"gpt-4o\",\"stream\":true,\"temperature\":0.70,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
            + "\"stream_options\":{\"include_usage\":true}}");
  }

  @Test
  void existingStreamOptions_areMergedInto() {
    StreamUsage.Rewrite rewrite =
        rewrite("{\"stream\":true,\"stream_options\":{\"include_obfuscation\":false}}");
    assertThat(rewrite.usageAdded()).isTrue();
    assertThat(string(rewrite.body()))
        .isEqualTo("{\"stream\":true,\"stream_options\":{\"include_obfuscation\":false,\"include_usage\":true}}");
  }

  @Test
  void includeUsageFalse_isTurnedOn_andFiltered() {
    StreamUsage.Rewrite rewrite = rewrite("{\"stream\":true,\"stream_options\":{\"include_usage\":false}}");
    assertThat(rewrite.usageAdded()).as("the buyer asked not to see it: filter it out").isTrue();
    assertThat(string(rewrite.body())).contains("\"include_usage\":true");
  }

  @Test
  void buyerAlreadyIncludingUsage_isLeftAlone() {
    byte[] body = bytes("{\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    StreamUsage.Rewrite rewrite = StreamUsage.includeUsage(body);
    assertThat(rewrite.usageAdded()).as("the buyer gets the usage chunk it asked for").isFalse();
    assertThat(rewrite.body()).isSameAs(body);
  }

  @Test
  void nonStreamingOrUnreadableRequests_areLeftAlone() {
    for (String body :
        new String[] {
          "{\"stream\":false}", "{\"model\":\"x\"}", "{\"stream\":\"true\"}", "not json", "[1,2]",
          "{\"stream\":true,\"stream_options\":7}", ""
        }) {
      byte[] bytes = bytes(body);
      StreamUsage.Rewrite rewrite = StreamUsage.includeUsage(bytes);
      assertThat(rewrite.usageAdded()).as(body).isFalse();
      assertThat(rewrite.body()).as(body).isSameAs(bytes);
    }
  }

  @Test
  void theOptionIsSplicedIn_everyOtherByteKept() {
    String[][] cases = {
      {"{ \"stream\" : true , \"n\":1.50e0,\"s\":\"\\u00e9\\n\" }",
          "{ \"stream\" : true , \"n\":1.50e0,\"s\":\"\\u00e9\\n\" ,\"stream_options\":{\"include_usage\":true}}"},
      {"{\"stream\":true,\"stream_options\":null}", "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
      {"{\"stream\":true,\"stream_options\":{ }}", "{\"stream\":true,\"stream_options\":{ \"include_usage\":true}}"},
      {"{\"stream\":true,\"stream_options\":{\"include_usage\":\"yes\",\"x\":1}}",
          "{\"stream\":true,\"stream_options\":{\"include_usage\":true,\"x\":1}}"},
      {"{\"stream\":true,\"stream_options\":{\"include_usage\":{\"a\":[1]}}}",
          "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
      {"{\"stream\":true,\"stream_options\":{\"include_usage\":null}}", "{\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
      // given twice, the last counts, as the upstream reads it
      {"{\"stream\":true,\"stream_options\":{\"include_usage\":true,\"include_usage\":false}}",
          "{\"stream\":true,\"stream_options\":{\"include_usage\":true,\"include_usage\":true}}"},
      {"{\"stream_options\":7,\"stream\":true,\"stream_options\":{}}",
          "{\"stream_options\":7,\"stream\":true,\"stream_options\":{\"include_usage\":true}}"},
    };
    for (String[] c : cases) {
      StreamUsage.Rewrite rewrite = rewrite(c[0]);
      assertThat(rewrite.usageAdded()).as(c[0]).isTrue();
      assertThat(string(rewrite.body())).as(c[0]).isEqualTo(c[1]);
    }
  }

  @Test
  void aStreamFlagGivenTwice_countsAsGivenLast() {
    assertThat(rewrite("{\"stream\":true,\"stream\":false}").usageAdded()).isFalse();
    assertThat(rewrite("{\"stream\":false,\"stream\":true}").usageAdded()).isTrue();
    assertThat(rewrite("{\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_usage\":true}}").usageAdded())
        .isFalse();
  }

  @Test
  void bodiesThatAreNotOneObject_areLeftAlone() {
    for (String body : new String[] {"{\"stream\":true} {}", "{\"stream\":true", "{\"stream\":true}x"}) {
      byte[] bytes = bytes(body);
      assertThat(StreamUsage.includeUsage(bytes).body()).as(body).isSameAs(bytes);
    }
  }

  @Test
  void byteBufOverload_readsWithoutMovingIndices() {
    ByteBuf buf = Unpooled.copiedBuffer("xx{\"stream\":true}", StandardCharsets.UTF_8);
    buf.readerIndex(2);
    StreamUsage.Rewrite rewrite = StreamUsage.includeUsage(buf);
    assertThat(rewrite.usageAdded()).isTrue();
    assertThat(buf.readerIndex()).isEqualTo(2);
    assertThat(buf.refCnt()).isEqualTo(1);
    buf.release();
  }

  private static StreamUsage.Rewrite rewrite(String body) {
    return StreamUsage.includeUsage(bytes(body));
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String string(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }
}
