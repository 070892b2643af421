package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.DefaultHeaders.NameValidator;
import io.netty.handler.codec.DefaultHeaders.ValueValidator;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import io.netty.util.CharsetUtil;
import java.util.AbstractMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Calendar;
import java.util.Collections;
import java.util.Date;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map.Entry;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * A head's header fields in one array, names and values alternating, in the order they were
 * added: what the buyer port's and the backends' decoders make for each request and answer head
 * ({@link HeaderTables}). Netty's {@code DefaultHttpHeaders} keeps a hash table with an entry
 * object per field (48 bytes each, plus the table and its head entry): with a request's dozen
 * fields as forwarded and an answer's ten, that was about 940 bytes of garbage per proxied call,
 * a third of it. Here a head is this object and one array, grown by doubling from {@value
 * #INITIAL_FIELDS} fields.
 *
 * <p>Names are compared ignoring ASCII case, lengths first; a head holds few enough fields that a
 * scan costs no more than hashing the name. What may be added is checked exactly as by Netty's
 * default headers (the validators of {@link DefaultHttpHeadersFactory#headersFactory()}: token
 * names, values without CR, LF or other control bytes), and values convert the same way (a {@code
 * Date} or {@code Calendar} as an HTTP date, anything else by {@code toString()}).
 *
 * <p>{@link #iteratorCharSequence()}, which the encoder and tollgate's own scans use, hands out one
 * entry object per iteration that changes on each {@code next()} (as Netty's {@code
 * ReadOnlyHttpHeaders} does): read its key and value before the next step, do not keep it. The
 * other iterators and {@link #entries()} make an entry per field.
 */
final class FlatHeaders extends HttpHeaders {

  static final int INITIAL_FIELDS = 16;

  private static final DefaultHttpHeadersFactory NETTY = DefaultHttpHeadersFactory.headersFactory();
  private static final NameValidator<CharSequence> NAMES = NETTY.getNameValidator();
  private static final ValueValidator<CharSequence> VALUES = NETTY.getValueValidator();

  /** name, value, name, value, ...; {@code 2 * size} of them in use. */
  private CharSequence[] fields;
  private int size;

  FlatHeaders() {
    fields = new CharSequence[2 * INITIAL_FIELDS];
  }

  /** A table with room for {@code fields} fields before it grows. */
  FlatHeaders(int fields) {
    this.fields = new CharSequence[2 * fields];
  }

  private FlatHeaders(FlatHeaders of) {
    fields = Arrays.copyOf(of.fields, Math.max(2 * INITIAL_FIELDS, 2 * of.size));
    size = of.size;
  }

  // ---- lookup

  private static boolean sameName(CharSequence a, CharSequence b) {
    return a.length() == b.length() && AsciiString.contentEqualsIgnoreCase(a, b);
  }

  /** The index of the first field named {@code name} at or after field {@code from}, or -1. */
  private int indexOf(CharSequence name, int from) {
    CharSequence[] f = fields;
    for (int i = from; i < size; i++) {
      if (sameName(f[2 * i], name)) {
        return i;
      }
    }
    return -1;
  }

  private CharSequence value(CharSequence name) {
    int i = indexOf(name, 0);
    return i < 0 ? null : fields[2 * i + 1];
  }

  @Override
  public String get(String name) {
    return get((CharSequence) name);
  }

  @Override
  public String get(CharSequence name) {
    CharSequence v = value(name);
    return v == null ? null : v.toString();
  }

  @Override
  public Integer getInt(CharSequence name) {
    CharSequence v = value(name);
    if (v == null) {
      return null;
    }
    try {
      return v instanceof AsciiString a ? a.parseInt() : Integer.parseInt(v.toString());
    } catch (RuntimeException e) {
      return null;
    }
  }

  @Override
  public int getInt(CharSequence name, int defaultValue) {
    Integer v = getInt(name);
    return v == null ? defaultValue : v;
  }

  @Override
  public Short getShort(CharSequence name) {
    Integer v = getInt(name); // as Short.parseShort: out of range is no number
    return v == null || v != v.shortValue() ? null : v.shortValue();
  }

  @Override
  public short getShort(CharSequence name, short defaultValue) {
    Short v = getShort(name);
    return v == null ? defaultValue : v;
  }

  @Override
  public Long getTimeMillis(CharSequence name) {
    CharSequence v = value(name);
    if (v == null) {
      return null;
    }
    Date d = DateFormatter.parseHttpDate(v);
    return d == null ? null : d.getTime();
  }

  @Override
  public long getTimeMillis(CharSequence name, long defaultValue) {
    Long v = getTimeMillis(name);
    return v == null ? defaultValue : v;
  }

  @Override
  public List<String> getAll(String name) {
    return getAll((CharSequence) name);
  }

  @Override
  public List<String> getAll(CharSequence name) {
    int i = indexOf(name, 0);
    if (i < 0) {
      return Collections.emptyList();
    }
    int second = indexOf(name, i + 1);
    if (second < 0) {
      return Collections.singletonList(fields[2 * i + 1].toString()); // the decoders' Content-Length look-up
    }
    List<String> all = new ArrayList<>(2);
    for (; i >= 0; i = indexOf(name, i + 1)) {
      all.add(fields[2 * i + 1].toString());
    }
    return all;
  }

  @Override
  public List<Entry<String, String>> entries() {
    List<Entry<String, String>> all = new ArrayList<>(size);
    for (int i = 0; i < size; i++) {
      all.add(new AbstractMap.SimpleImmutableEntry<>(fields[2 * i].toString(), fields[2 * i + 1].toString()));
    }
    return all;
  }

  @Override
  public boolean contains(String name) {
    return indexOf(name, 0) >= 0;
  }

  @Override
  public boolean contains(CharSequence name) {
    return indexOf(name, 0) >= 0;
  }

  /** Whether a field named {@code name} has exactly the value {@code value} (its case ignored if asked). */
  @Override
  public boolean contains(CharSequence name, CharSequence value, boolean ignoreCase) {
    for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
      CharSequence v = fields[2 * i + 1];
      if (ignoreCase ? AsciiString.contentEqualsIgnoreCase(v, value) : AsciiString.contentEquals(v, value)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public boolean contains(String name, String value, boolean ignoreCase) {
    return contains((CharSequence) name, value, ignoreCase);
  }

  /** Whether one of the comma-separated elements of a field named {@code name} is {@code value}, trimmed. */
  @Override
  public boolean containsValue(CharSequence name, CharSequence value, boolean ignoreCase) {
    for (int i = indexOf(name, 0); i >= 0; i = indexOf(name, i + 1)) {
      if (containsElement(fields[2 * i + 1], value, ignoreCase)) {
        return true;
      }
    }
    return false;
  }

  /** As Netty's: each element trimmed of the characters up to space; a trailing empty one is not looked at. */
  private static boolean containsElement(CharSequence v, CharSequence value, boolean ignoreCase) {
    int n = v.length();
    int start = 0;
    while (true) {
      int comma = AsciiString.indexOf(v, ',', start);
      int end = comma < 0 ? n : comma;
      if (comma >= 0 || start < n || start == 0) {
        int s = start;
        int e = end;
        while (s < e && v.charAt(s) <= ' ') {
          s++;
        }
        while (e > s && v.charAt(e - 1) <= ' ') {
          e--;
        }
        if (e - s == value.length() && AsciiString.regionMatches(v, ignoreCase, s, value, 0, e - s)) {
          return true;
        }
      }
      if (comma < 0) {
        return false;
      }
      start = comma + 1;
    }
  }

  @Override
  public boolean isEmpty() {
    return size == 0;
  }

  @Override
  public int size() {
    return size;
  }

  @Override
  public Set<String> names() {
    if (size == 0) {
      return Collections.emptySet();
    }
    Set<String> names = new LinkedHashSet<>(2 * size);
    for (int i = 0; i < size; i++) {
      names.add(fields[2 * i].toString());
    }
    return names;
  }

  // ---- iteration

  /** Netty deprecates it for {@link #iteratorCharSequence()} and {@code iteratorAsString()}. */
  @Deprecated
  @Override
  public Iterator<Entry<String, String>> iterator() {
    return entries().iterator();
  }

  /** One entry for the whole iteration, moved by each {@code next()}: read it before the next step. */
  @Override
  public Iterator<Entry<CharSequence, CharSequence>> iteratorCharSequence() {
    return new Fields();
  }

  /**
   * Writes the fields as Netty's encoders write a head's fields ({@code name: value} and CRLF
   * each, a character that is not ASCII as {@code ?}), without an iterator.
   */
  void encodeTo(ByteBuf buf) {
    CharSequence[] f = fields;
    for (int i = 0, n = 2 * size; i < n; i += 2) {
      CharSequence name = f[i];
      CharSequence value = f[i + 1];
      buf.ensureWritable(name.length() + value.length() + 4);
      writeAscii(buf, name);
      buf.writeByte(':').writeByte(' ');
      writeAscii(buf, value);
      buf.writeByte('\r').writeByte('\n');
    }
  }

  private static void writeAscii(ByteBuf buf, CharSequence s) {
    if (s instanceof AsciiString a) {
      buf.writeBytes(a.array(), a.arrayOffset(), a.length());
    } else {
      buf.writeCharSequence(s, CharsetUtil.US_ASCII);
    }
  }

  @Override
  public Iterator<String> valueStringIterator(CharSequence name) {
    return getAll(name).iterator();
  }

  @Override
  public Iterator<CharSequence> valueCharSequenceIterator(CharSequence name) {
    return new Values(name);
  }

  /**
   * The values of the fields of one name in the order the fields came, found as the iteration
   * goes (Netty's {@code DefaultHttpHeaders} gives them newest first; its decoders read the last
   * one as the last transfer coding, which RFC 9112 means as the last field's).
   */
  private final class Values implements Iterator<CharSequence> {
    private final CharSequence name;
    private int next;

    Values(CharSequence name) {
      this.name = name;
      next = indexOf(name, 0);
    }

    @Override
    public boolean hasNext() {
      return next >= 0;
    }

    @Override
    public CharSequence next() {
      if (next < 0) {
        throw new NoSuchElementException();
      }
      CharSequence value = fields[2 * next + 1];
      next = indexOf(name, next + 1);
      return value;
    }
  }

  private final class Fields implements Iterator<Entry<CharSequence, CharSequence>>, Entry<CharSequence, CharSequence> {
    private int next;
    private int current = -1;

    @Override
    public boolean hasNext() {
      return next < size;
    }

    @Override
    public Entry<CharSequence, CharSequence> next() {
      if (next >= size) {
        throw new NoSuchElementException();
      }
      current = next++;
      return this;
    }

    /** Removes the field {@code next()} returned last. */
    @Override
    public void remove() {
      if (current < 0) {
        throw new IllegalStateException();
      }
      removeAt(current);
      next = current;
      current = -1;
    }

    @Override
    public CharSequence getKey() {
      return fields[2 * current];
    }

    @Override
    public CharSequence getValue() {
      return fields[2 * current + 1];
    }

    @Override
    public CharSequence setValue(CharSequence value) {
      CharSequence v = checkedValue(fields[2 * current], value);
      CharSequence old = fields[2 * current + 1];
      fields[2 * current + 1] = v;
      return old;
    }

    @Override
    public String toString() {
      return getKey() + "=" + getValue();
    }
  }

  // ---- changes

  private static CharSequence checkedName(CharSequence name) {
    NAMES.validateName(name); // null and empty included
    return name;
  }

  private static CharSequence checkedValue(CharSequence name, Object value) {
    if (value == null) {
      throw new NullPointerException("value");
    }
    CharSequence v;
    if (value instanceof CharSequence cs) {
      v = cs;
    } else if (value instanceof Date d) {
      v = DateFormatter.format(d);
    } else if (value instanceof Calendar c) {
      v = DateFormatter.format(c.getTime());
    } else {
      v = value.toString();
    }
    try {
      VALUES.validate(v);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("Validation failed for header '" + name + "'", e);
    }
    return v;
  }

  /** Appends a field {@link HeadParser} read and checked: a token name and a value of text. */
  void appendParsed(AsciiString name, String value) {
    append(name, value);
  }

  private void append(CharSequence name, CharSequence value) {
    int at = 2 * size;
    if (at == fields.length) {
      fields = Arrays.copyOf(fields, 2 * fields.length);
    }
    fields[at] = name;
    fields[at + 1] = value;
    size++;
  }

  private void removeAt(int i) {
    int tail = size - i - 1;
    if (tail > 0) {
      System.arraycopy(fields, 2 * i + 2, fields, 2 * i, 2 * tail);
    }
    size--;
    fields[2 * size] = null;
    fields[2 * size + 1] = null;
  }

  /** Removes every field named {@code name}, keeping the order of the rest. */
  private void removeAll(CharSequence name) {
    CharSequence[] f = fields;
    int kept = 0;
    for (int i = 0; i < size; i++) {
      if (!sameName(f[2 * i], name)) {
        if (kept != i) {
          f[2 * kept] = f[2 * i];
          f[2 * kept + 1] = f[2 * i + 1];
        }
        kept++;
      }
    }
    for (int i = kept; i < size; i++) {
      f[2 * i] = null;
      f[2 * i + 1] = null;
    }
    size = kept;
  }

  @Override
  public HttpHeaders add(String name, Object value) {
    return add((CharSequence) name, value);
  }

  @Override
  public HttpHeaders add(CharSequence name, Object value) {
    append(checkedName(name), checkedValue(name, value));
    return this;
  }

  @Override
  public HttpHeaders add(String name, Iterable<?> values) {
    return add((CharSequence) name, values);
  }

  @Override
  public HttpHeaders add(CharSequence name, Iterable<?> values) {
    checkedName(name);
    for (Object v : values) {
      append(name, checkedValue(name, v));
    }
    return this;
  }

  @Override
  public HttpHeaders add(HttpHeaders headers) {
    if (headers == this) {
      throw new IllegalArgumentException("can't add to itself.");
    }
    for (Iterator<Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
      Entry<CharSequence, CharSequence> e = it.next();
      add(e.getKey(), e.getValue());
    }
    return this;
  }

  @Override
  public HttpHeaders addInt(CharSequence name, int value) {
    return add(name, Integer.toString(value));
  }

  @Override
  public HttpHeaders addShort(CharSequence name, short value) {
    return add(name, Short.toString(value));
  }

  @Override
  public HttpHeaders set(String name, Object value) {
    return set((CharSequence) name, value);
  }

  @Override
  public HttpHeaders set(CharSequence name, Object value) {
    CharSequence n = checkedName(name);
    CharSequence v = checkedValue(name, value);
    removeAll(n);
    append(n, v);
    return this;
  }

  @Override
  public HttpHeaders set(String name, Iterable<?> values) {
    return set((CharSequence) name, values);
  }

  @Override
  public HttpHeaders set(CharSequence name, Iterable<?> values) {
    checkedName(name);
    removeAll(name);
    for (Object v : values) {
      if (v == null) {
        break; // as Netty's: the values up to the first null
      }
      append(name, checkedValue(name, v));
    }
    return this;
  }

  @Override
  public HttpHeaders set(HttpHeaders headers) {
    if (headers == this) {
      return this;
    }
    clear();
    return add(headers);
  }

  @Override
  public HttpHeaders setInt(CharSequence name, int value) {
    return set(name, Integer.toString(value));
  }

  @Override
  public HttpHeaders setShort(CharSequence name, short value) {
    return set(name, Short.toString(value));
  }

  @Override
  public HttpHeaders remove(String name) {
    return remove((CharSequence) name);
  }

  @Override
  public HttpHeaders remove(CharSequence name) {
    if (name != null) {
      removeAll(name);
    }
    return this;
  }

  @Override
  public HttpHeaders clear() {
    Arrays.fill(fields, 0, 2 * size, null);
    size = 0;
    return this;
  }

  @Override
  public HttpHeaders copy() {
    return new FlatHeaders(this);
  }

  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("FlatHeaders[");
    for (int i = 0; i < size; i++) {
      if (i > 0) {
        b.append(", ");
      }
      b.append(fields[2 * i]).append(": ").append(fields[2 * i + 1]);
    }
    return b.append(']').toString();
  }
}
