package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.Date;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The decoders' header table: Netty's header semantics in one array. */
class FlatHeadersTest {

  static List<String> fields(HttpHeaders h) {
    List<String> out = new ArrayList<>();
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
      Map.Entry<CharSequence, CharSequence> e = it.next();
      out.add(e.getKey() + ": " + e.getValue());
    }
    return out;
  }

  @Test
  void namesMatchIgnoringCase_keepTheirSpelling_andFieldsKeepTheirOrder() {
    FlatHeaders h = new FlatHeaders();
    h.add("Content-Type", "application/json");
    h.add(HttpHeaderNames.ACCEPT, "*/*");
    h.add("X-Thing", "1");
    h.add("x-thing", "2");

    assertThat(h.get("content-type")).isEqualTo("application/json");
    assertThat(h.get(HttpHeaderNames.CONTENT_TYPE)).isEqualTo("application/json");
    assertThat(h.getAll("X-THING")).containsExactly("1", "2");
    assertThat(h.contains("ACCEPT")).isTrue();
    assertThat(h.get("missing")).isNull();
    assertThat(fields(h)).containsExactly("Content-Type: application/json", "accept: */*", "X-Thing: 1", "x-thing: 2");
  }

  @Test
  void set_replacesEveryFieldOfTheName_andGoesLast_remove_keepsTheOthersInOrder() {
    FlatHeaders h = new FlatHeaders();
    h.add("A", "1").add("b", "2").add("a", "3").add("C", "4");
    h.set("a", "5");
    assertThat(fields(h)).containsExactly("b: 2", "C: 4", "a: 5");
    h.remove("B");
    assertThat(fields(h)).containsExactly("C: 4", "a: 5");
    h.remove(new AsciiString("nothing"));
    assertThat(h.size()).isEqualTo(2);
    h.clear();
    assertThat(h.isEmpty()).isTrue();
    assertThat(fields(h)).isEmpty();
  }

  @Test
  void checksNamesAndValuesAsNettysDefaultHeaders() {
    FlatHeaders h = new FlatHeaders();
    assertThatThrownBy(() -> h.add("Bad Name", "v")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> h.add("bad:name", "v")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> h.add("", "v")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> h.set("x", "a\r\nInjected: 1")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> h.add("x", "nul\0")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> h.add("x", (Object) null)).isInstanceOf(NullPointerException.class);
    assertThat(h.isEmpty()).as("nothing refused was added").isTrue();

    HttpHeaders netty = DefaultHttpHeadersFactory.headersFactory().newHeaders();
    assertThatThrownBy(() -> netty.add("Bad Name", "v")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> netty.set("x", "a\r\nInjected: 1")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void containsValue_readsCommaSeparatedTrimmedElements_contains_wholeValues() {
    FlatHeaders h = new FlatHeaders();
    h.add("Transfer-Encoding", "gzip ,  Chunked");
    h.add("Connection", "keep-alive");
    assertThat(h.containsValue("transfer-encoding", "chunked", true)).isTrue();
    assertThat(h.containsValue("transfer-encoding", "chunked", false)).isFalse();
    assertThat(h.containsValue("transfer-encoding", "gzip", false)).isTrue();
    assertThat(h.containsValue("transfer-encoding", "gzip ,  Chunked", true)).isFalse();
    assertThat(h.contains("transfer-encoding", "gzip ,  Chunked", false)).isTrue();
    assertThat(h.contains("connection", "KEEP-ALIVE", true)).isTrue();
    assertThat(h.contains("connection", "KEEP-ALIVE", false)).isFalse();
  }

  @Test
  void numbersAndDates_parseOrAreNull() {
    FlatHeaders h = new FlatHeaders();
    h.set("Content-Length", "1234").set("X-Short", new AsciiString("12")).set("X-Bad", "12a");
    h.setInt("X-Int", 7);
    h.set("Date", new Date(784111777000L));
    assertThat(h.getInt("content-length")).isEqualTo(1234);
    assertThat(h.getShort("x-short")).isEqualTo((short) 12);
    assertThat(h.getInt("x-bad")).isNull();
    assertThat(h.getInt("x-bad", -1)).isEqualTo(-1);
    assertThat(h.get("x-int")).isEqualTo("7");
    assertThat(h.get("date")).isEqualTo("Sun, 06 Nov 1994 08:49:37 GMT");
    assertThat(h.getTimeMillis("date")).isEqualTo(784111777000L);
  }

  @Test
  void growsPastItsFirstArray_andACopyIsItsOwn() {
    FlatHeaders h = new FlatHeaders();
    for (int i = 0; i < 3 * FlatHeaders.INITIAL_FIELDS; i++) {
      h.add("X-F" + i, Integer.toString(i));
    }
    assertThat(h.size()).isEqualTo(3 * FlatHeaders.INITIAL_FIELDS);
    assertThat(h.get("x-f47")).isEqualTo("47");
    HttpHeaders copy = h.copy();
    copy.remove("X-F0");
    assertThat(h.get("X-F0")).isEqualTo("0");
    assertThat(copy.size()).isEqualTo(h.size() - 1);
  }

  @Test
  void theIteratorRemovesTheFieldItIsOn() {
    FlatHeaders h = new FlatHeaders();
    h.add("a", "1").add("b", "2").add("c", "3");
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
      if (it.next().getKey().toString().equals("b")) {
        it.remove();
      }
    }
    assertThat(fields(h)).containsExactly("a: 1", "c: 3");
  }

  /** The same random adds, sets and removes on Netty's headers and on these give the same fields. */
  @Test
  void behavesAsNettysDefaultHeaders_overRandomChanges() {
    String[] names = {"Host", "host", "HOST", "Content-Length", "content-length", "X-A", "x-a", "Via", "Accept"};
    Random random = new Random(20261203L);
    for (int round = 0; round < 200; round++) {
      HttpHeaders netty = DefaultHttpHeadersFactory.headersFactory().newHeaders();
      FlatHeaders flat = new FlatHeaders();
      for (int op = 0; op < 40; op++) {
        String name = names[random.nextInt(names.length)];
        String value = "v" + random.nextInt(5);
        switch (random.nextInt(4)) {
          case 0, 1 -> {
            netty.add(name, value);
            flat.add(name, value);
          }
          case 2 -> {
            netty.set(name, value);
            flat.set(name, value);
          }
          default -> {
            netty.remove(name);
            flat.remove(name);
          }
        }
        assertThat(fields(flat)).as("round %d op %d", round, op).isEqualTo(fields(netty));
        String probe = names[random.nextInt(names.length)];
        assertThat(flat.get(probe)).isEqualTo(netty.get(probe));
        assertThat(flat.getAll(probe)).isEqualTo(netty.getAll(probe));
        List<String> flatValues = new ArrayList<>();
        flat.valueCharSequenceIterator(probe).forEachRemaining(v -> flatValues.add(v.toString()));
        // In the order the fields came (Netty's own table iterates newest first): the decoders'
        // check that chunked is the last transfer coding reads the last field's value last.
        assertThat(flatValues).isEqualTo(netty.getAll(probe));
        assertThat(flat.contains(probe)).isEqualTo(netty.contains(probe));
        assertThat(flat.containsValue(probe, "V1", true)).isEqualTo(netty.containsValue(probe, "V1", true));
        assertThat(flat.names()).isEqualTo(netty.names());
      }
    }
  }

  /** Allocated bytes per head of {@code fields} fields built by {@code make}, on this thread. */
  static long bytesPerHead(java.util.function.Supplier<HttpHeaders> make, int fields) {
    var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
    AsciiString[] names = new AsciiString[fields];
    for (int i = 0; i < fields; i++) {
      names[i] = AsciiString.cached("x-field-" + i);
    }
    HttpHeaders keep = null;
    long before = threads.getCurrentThreadAllocatedBytes();
    for (int n = 0; n < 2_000; n++) {
      HttpHeaders h = make.get();
      for (int i = 0; i < fields; i++) {
        h.add(names[i], "value");
      }
      keep = h;
    }
    long per = (threads.getCurrentThreadAllocatedBytes() - before) / 2_000;
    assertThat(keep.size()).isEqualTo(fields);
    return per;
  }

  /** What it is for: a head of fourteen fields is this object and one array, not an entry per field. */
  @Test
  void aHeadOfFourteenFields_isOneObjectAndOneArray() {
    long flat = bytesPerHead(FlatHeaders::new, 14);
    long netty = bytesPerHead(() -> DefaultHttpHeadersFactory.headersFactory().newHeaders(), 14);
    System.out.println("FlatHeadersTest: bytes per head of 14 fields: " + flat + " (Netty's table: " + netty + ")");
    assertThat(flat).as("FlatHeaders: 16 + 8 bytes of object, 16 + 32 x 4 of array").isLessThanOrEqualTo(200);
    assertThat(netty).as("Netty's table, for scale: an entry per field").isGreaterThan(600);
  }
}
