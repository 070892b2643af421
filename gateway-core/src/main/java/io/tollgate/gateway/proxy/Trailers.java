package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Map.Entry;
import java.util.Set;

/**
 * The trailer headers the buyer port's and the backends' decoders give each message's last
 * content: Netty's validating trailers, made only once a trailer field arrives. The decoders make a
 * trailers object for every request and every answer with a body, and almost none carries a trailer
 * field: a table (a headers object, its implementation, a head entry and a bucket array, about 120
 * bytes) per message was a tenth of the garbage of a proxied call. Each {@link Deferred} is one
 * small object until it is written to; then it holds Netty's own table with two buckets, made by
 * {@link DefaultHttpHeadersFactory#trailersFactory()}, so what a trailer may hold is validated
 * exactly as before (token names, no CR/LF in values, no framing fields).
 */
final class Trailers implements HttpHeadersFactory {

  static final Trailers SMALL = new Trailers();

  private static final DefaultHttpHeadersFactory VALIDATING = DefaultHttpHeadersFactory.trailersFactory();

  private Trailers() {}

  @Override
  public HttpHeaders newHeaders() {
    return new Deferred();
  }

  @Override
  public HttpHeaders newEmptyHeaders() {
    return new Deferred();
  }

  /**
   * Trailers that read as empty until the first write, which makes the validating table every
   * operation then goes to. Confined, like the message that holds them, to one event loop.
   */
  static final class Deferred extends HttpHeaders {

    private HttpHeaders table;

    /** The table, made at the first write. */
    private HttpHeaders table() {
      HttpHeaders t = table;
      if (t == null) {
        t = table = VALIDATING.newEmptyHeaders();
      }
      return t;
    }

    /** What reads see: the table, or no field at all before the first write. */
    private HttpHeaders fields() {
      HttpHeaders t = table;
      return t == null ? EmptyHttpHeaders.INSTANCE : t;
    }

    @Override
    public String get(String name) {
      return fields().get(name);
    }

    @Override
    public String get(CharSequence name) {
      return fields().get(name);
    }

    @Override
    public String get(CharSequence name, String defaultValue) {
      return fields().get(name, defaultValue);
    }

    @Override
    public Integer getInt(CharSequence name) {
      return fields().getInt(name);
    }

    @Override
    public int getInt(CharSequence name, int defaultValue) {
      return fields().getInt(name, defaultValue);
    }

    @Override
    public Short getShort(CharSequence name) {
      return fields().getShort(name);
    }

    @Override
    public short getShort(CharSequence name, short defaultValue) {
      return fields().getShort(name, defaultValue);
    }

    @Override
    public Long getTimeMillis(CharSequence name) {
      return fields().getTimeMillis(name);
    }

    @Override
    public long getTimeMillis(CharSequence name, long defaultValue) {
      return fields().getTimeMillis(name, defaultValue);
    }

    @Override
    public List<String> getAll(String name) {
      return fields().getAll(name);
    }

    @Override
    public List<String> getAll(CharSequence name) {
      return fields().getAll(name);
    }

    @Override
    public List<Map.Entry<String, String>> entries() {
      return fields().entries();
    }

    @Override
    public boolean contains(String name) {
      return fields().contains(name);
    }

    @Override
    public boolean contains(CharSequence name) {
      return fields().contains(name);
    }

    @Override
    public boolean contains(String name, String value, boolean ignoreCase) {
      return fields().contains(name, value, ignoreCase);
    }

    @Override
    public boolean contains(CharSequence name, CharSequence value, boolean ignoreCase) {
      return fields().contains(name, value, ignoreCase);
    }

    @Override
    public boolean containsValue(CharSequence name, CharSequence value, boolean ignoreCase) {
      return fields().containsValue(name, value, ignoreCase);
    }

    @Deprecated
    @Override
    public Iterator<Entry<String, String>> iterator() {
      return fields().iterator();
    }

    @Override
    public Iterator<Entry<CharSequence, CharSequence>> iteratorCharSequence() {
      return fields().iteratorCharSequence();
    }

    @Override
    public Iterator<String> valueStringIterator(CharSequence name) {
      return fields().valueStringIterator(name);
    }

    @Override
    public Iterator<? extends CharSequence> valueCharSequenceIterator(CharSequence name) {
      return fields().valueCharSequenceIterator(name);
    }

    @Override
    public boolean isEmpty() {
      return fields().isEmpty();
    }

    @Override
    public int size() {
      return fields().size();
    }

    @Override
    public Set<String> names() {
      return fields().names();
    }

    @Override
    public HttpHeaders add(String name, Object value) {
      table().add(name, value);
      return this;
    }

    @Override
    public HttpHeaders add(CharSequence name, Object value) {
      table().add(name, value);
      return this;
    }

    @Override
    public HttpHeaders add(String name, Iterable<?> values) {
      table().add(name, values);
      return this;
    }

    @Override
    public HttpHeaders add(CharSequence name, Iterable<?> values) {
      table().add(name, values);
      return this;
    }

    @Override
    public HttpHeaders add(HttpHeaders headers) {
      if (headers == this) {
        throw new IllegalArgumentException("can't add to itself."); // as Netty's own headers
      }
      table().add(headers);
      return this;
    }

    @Override
    public HttpHeaders addInt(CharSequence name, int value) {
      table().addInt(name, value);
      return this;
    }

    @Override
    public HttpHeaders addShort(CharSequence name, short value) {
      table().addShort(name, value);
      return this;
    }

    @Override
    public HttpHeaders set(String name, Object value) {
      table().set(name, value);
      return this;
    }

    @Override
    public HttpHeaders set(CharSequence name, Object value) {
      table().set(name, value);
      return this;
    }

    @Override
    public HttpHeaders set(String name, Iterable<?> values) {
      table().set(name, values);
      return this;
    }

    @Override
    public HttpHeaders set(CharSequence name, Iterable<?> values) {
      table().set(name, values);
      return this;
    }

    @Override
    public HttpHeaders set(HttpHeaders headers) {
      if (headers != this) {
        table().set(headers);
      }
      return this;
    }

    @Override
    public HttpHeaders setAll(HttpHeaders headers) {
      if (headers != this) {
        table().setAll(headers);
      }
      return this;
    }

    @Override
    public HttpHeaders setInt(CharSequence name, int value) {
      table().setInt(name, value);
      return this;
    }

    @Override
    public HttpHeaders setShort(CharSequence name, short value) {
      table().setShort(name, value);
      return this;
    }

    @Override
    public HttpHeaders remove(String name) {
      if (table != null) {
        table.remove(name);
      }
      return this;
    }

    @Override
    public HttpHeaders remove(CharSequence name) {
      if (table != null) {
        table.remove(name);
      }
      return this;
    }

    @Override
    public HttpHeaders clear() {
      if (table != null) {
        table.clear();
      }
      return this;
    }

    @Override
    public HttpHeaders copy() {
      Deferred copy = new Deferred();
      if (table != null) {
        copy.table = table.copy();
      }
      return copy;
    }
  }
}
