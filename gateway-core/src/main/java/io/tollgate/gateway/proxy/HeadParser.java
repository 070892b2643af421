package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

/**
 * Reads the plain heads that nearly every call has (a whole head already read, CRLF line ends, a
 * body framed by one {@code Content-Length} or none) without the strings and objects Netty's
 * decoders make for each line and field; {@link BuyerCodec} and {@link BackendCodec} pass
 * everything else, untouched, to Netty's decoders, so what is odd, malformed or hostile is
 * judged exactly as before.
 *
 * <p>A head is read here only when all of this holds, and left to Netty otherwise:
 *
 * <ul>
 *   <li>it ends within the bytes already read and within {@value HeadStrings#HEAD_BYTES} bytes;
 *   <li>every line ends in CRLF, and no line starts with a space or tab (no folded fields);
 *   <li>a request line is a method of GET, POST, PUT, PATCH, DELETE or OPTIONS, one space, a
 *       target of printable ASCII without spaces, one space and {@code HTTP/1.1} or {@code
 *       HTTP/1.0}; a status line is one of those versions, one space, a status from 200 to 599 but
 *       204 and 304, one space and a reason of printable ASCII that neither starts nor ends with
 *       a space or tab;
 *   <li>each field is a token name, a colon right after it, and a value of printable ASCII, spaces
 *       and tabs (those around it are not part of it);
 *   <li>no {@code Sec-WebSocket-*} field, at most one {@code Content-Length}, its value 1 to 18
 *       digits without a leading zero (or {@code 0}); a request has no {@code Transfer-Encoding};
 *       an answer has either a {@code Content-Length} or, in HTTP/1.1, one {@code
 *       Transfer-Encoding: chunked} (that value alone, any case), not both.
 * </ul>
 *
 * <p>Each of these is stricter than what Netty's decoders accept, and for each such head they
 * make the same message: the same method or status, target, version and fields in order, and
 * the same body framing. {@code HeadParserTest} checks that against Netty on whole and split
 * heads, plain and odd.
 *
 * <p>One per decoder; what a read found is in its fields when it returned {@code true}.
 */
final class HeadParser {

  private static final byte SP = ' ';
  private static final byte HT = '\t';
  private static final byte CR = '\r';
  private static final byte LF = '\n';

  /** RFC 9110's tchar: what a field name or method may hold. */
  private static final boolean[] TOKEN = new boolean[256];

  static {
    for (int c = '0'; c <= '9'; c++) {
      TOKEN[c] = true;
    }
    for (int c = 'a'; c <= 'z'; c++) {
      TOKEN[c] = true;
      TOKEN[c - 'a' + 'A'] = true;
    }
    for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
      TOKEN[c] = true;
    }
  }

  private static final AsciiString CONTENT_LENGTH = AsciiString.cached("content-length");
  private static final AsciiString TRANSFER_ENCODING = AsciiString.cached("transfer-encoding");
  private static final AsciiString CHUNKED = AsciiString.cached("chunked");
  private static final AsciiString SEC_WEBSOCKET = AsciiString.cached("sec-websocket-");

  // ---- what the last successful read found

  /** Bytes of the head, blank line included: what the caller skips. */
  int headLength;
  /** The body's length: {@code 0} when a request declares none, -1 for a chunked answer. */
  long contentLength;
  HttpMethod method;
  String target;
  HttpVersion version;
  HttpResponseStatus status;
  FlatHeaders headers;

  private final HeadStrings strings;

  HeadParser(HeadStrings strings) {
    this.strings = strings;
  }

  /** Reads a request head at {@code in}'s reader index, which it does not move. */
  boolean request(ByteBuf in) {
    byte[] b = strings.bytes;
    int n = copy(in, b);
    if (n < 16) { // "GET / HTTP/1.1\r\n" and a blank line
      return false;
    }
    int lineEnd = lineEnd(b, 0, n);
    if (lineEnd < 0) {
      return false;
    }
    int sp = method(b, lineEnd);
    if (sp < 0) {
      return false;
    }
    int targetStart = sp + 1;
    int targetEnd = targetStart;
    while (targetEnd < lineEnd && b[targetEnd] > SP && b[targetEnd] < 0x7f) {
      targetEnd++;
    }
    if (targetEnd == targetStart || targetEnd + 9 != lineEnd || b[targetEnd] != SP) {
      return false;
    }
    HttpVersion v = version(b, targetEnd + 1);
    if (v == null) {
      return false;
    }
    if (!fields(b, lineEnd + 2, n, false)) {
      return false;
    }
    target = strings.value(b, targetStart, targetEnd);
    version = v;
    status = null;
    return true;
  }

  /** Reads an answer head at {@code in}'s reader index, which it does not move. */
  boolean response(ByteBuf in) {
    byte[] b = strings.bytes;
    int n = copy(in, b);
    if (n < 17) { // "HTTP/1.1 200 OK\r\n" ...
      return false;
    }
    int lineEnd = lineEnd(b, 0, n);
    if (lineEnd < 0) {
      return false;
    }
    if (lineEnd < 14) {
      return false;
    }
    HttpVersion v = version(b, 0);
    if (v == null || b[8] != SP || b[12] != SP) {
      return false;
    }
    int code = 0;
    for (int i = 9; i < 12; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) {
        return false;
      }
      code = code * 10 + d;
    }
    if (code < 200 || code > 599 || code == 204 || code == 304) {
      return false;
    }
    int reasonStart = 13;
    if (isOws(b[reasonStart]) || isOws(b[lineEnd - 1])) {
      return false;
    }
    for (int i = reasonStart; i < lineEnd; i++) {
      if (!isText(b[i])) {
        return false;
      }
    }
    if (!fields(b, lineEnd + 2, n, true) || contentLength < 0 && v != HttpVersion.HTTP_1_1) {
      return false;
    }
    version = v;
    status = HttpResponseStatus.valueOf(code, strings.value(b, reasonStart, lineEnd));
    method = null;
    target = null;
    return true;
  }

  // ---- pieces

  /**
   * Copies the head at {@code in}'s reader index, up to its first CRLF CRLF, to {@code b}; returns
   * its length, or 0 when no such end is in the first {@code b.length} readable bytes. One search
   * for LF per line (Netty's word-at-a-time {@code indexOf}), not a call per byte.
   */
  private static int copy(ByteBuf in, byte[] b) {
    int from = in.readerIndex();
    int to = from + Math.min(in.readableBytes(), b.length);
    for (int lf = in.indexOf(from, to, LF); lf >= 0; lf = in.indexOf(lf + 1, to, LF)) {
      if (lf - from >= 3 && in.getByte(lf - 1) == CR && in.getByte(lf - 2) == LF && in.getByte(lf - 3) == CR) {
        int n = lf - from + 1;
        in.getBytes(from, b, 0, n);
        return n;
      }
    }
    return 0;
  }

  /** Index of the CR of the CRLF ending the line at {@code from}; -1 when none or a bare CR/LF. */
  private static int lineEnd(byte[] b, int from, int n) {
    for (int i = from; i < n; i++) {
      byte c = b[i];
      if (c == CR) {
        return i + 1 < n && b[i + 1] == LF ? i : -1;
      }
      if (c == LF) {
        return -1;
      }
    }
    return -1;
  }

  /** Sets {@link #method} from the request line's first word; returns the space after it, or -1. */
  private int method(byte[] b, int lineEnd) {
    int sp = 0;
    while (sp < lineEnd && sp < 8 && TOKEN[b[sp] & 0xff]) {
      sp++;
    }
    if (sp == lineEnd || b[sp] != SP) {
      return -1;
    }
    HttpMethod m = switch (sp) {
      case 3 -> is(b, "GET") ? HttpMethod.GET : is(b, "PUT") ? HttpMethod.PUT : null;
      case 4 -> is(b, "POST") ? HttpMethod.POST : null;
      case 5 -> is(b, "PATCH") ? HttpMethod.PATCH : null;
      case 6 -> is(b, "DELETE") ? HttpMethod.DELETE : null;
      case 7 -> is(b, "OPTIONS") ? HttpMethod.OPTIONS : null;
      default -> null;
    };
    method = m;
    return m == null ? -1 : sp;
  }

  private static boolean is(byte[] b, String word) {
    for (int i = 0; i < word.length(); i++) {
      if (b[i] != word.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** {@code HTTP/1.1} or {@code HTTP/1.0} at {@code at}, else null. */
  private static HttpVersion version(byte[] b, int at) {
    if (b[at] != 'H' || b[at + 1] != 'T' || b[at + 2] != 'T' || b[at + 3] != 'P' || b[at + 4] != '/'
        || b[at + 5] != '1' || b[at + 6] != '.') {
      return null;
    }
    return b[at + 7] == '1' ? HttpVersion.HTTP_1_1 : b[at + 7] == '0' ? HttpVersion.HTTP_1_0 : null;
  }

  /**
   * Reads the fields from {@code from} to the blank line; sets {@link #headers}, {@link
   * #contentLength} and {@link #headLength}. An answer must declare its length.
   */
  private boolean fields(byte[] b, int from, int n, boolean answer) {
    int[] marks = strings.marks;
    int count = 0;
    long length = -1;
    boolean chunked = false;
    int at = from;
    while (true) {
      int end = lineEnd(b, at, n);
      if (end < 0) {
        return false;
      }
      if (end == at) {
        break; // the blank line
      }
      int colon = at;
      while (colon < end && TOKEN[b[colon] & 0xff]) {
        colon++;
      }
      if (colon == at || colon == end || b[colon] != ':') {
        return false; // also a folded line (it starts with a space or tab)
      }
      int valueStart = colon + 1;
      while (valueStart < end && isOws(b[valueStart])) {
        valueStart++;
      }
      int valueEnd = end;
      while (valueEnd > valueStart && isOws(b[valueEnd - 1])) {
        valueEnd--;
      }
      for (int i = valueStart; i < valueEnd; i++) {
        if (!isText(b[i])) {
          return false;
        }
      }
      int nameLength = colon - at;
      if (nameLength == CONTENT_LENGTH.length() && sameIgnoringCase(b, at, CONTENT_LENGTH)) {
        if (length >= 0) {
          return false;
        }
        length = digits(b, valueStart, valueEnd);
        if (length < 0) {
          return false;
        }
      } else if (nameLength == TRANSFER_ENCODING.length() && sameIgnoringCase(b, at, TRANSFER_ENCODING)) {
        // An answer may be chunked, said once and plainly; anything else is Netty's to judge.
        if (!answer || chunked || valueEnd - valueStart != CHUNKED.length() || !sameIgnoringCase(b, valueStart, CHUNKED)) {
          return false;
        }
        chunked = true;
      } else if (nameLength >= SEC_WEBSOCKET.length() && sameIgnoringCase(b, at, SEC_WEBSOCKET)) {
        return false;
      }
      int m = 4 * count;
      marks[m] = at;
      marks[m + 1] = colon;
      marks[m + 2] = valueStart;
      marks[m + 3] = valueEnd;
      count++;
      at = end + 2;
    }
    if (chunked) {
      if (length >= 0) {
        return false; // both framings: Netty's decoder judges which wins
      }
    } else if (length < 0) {
      if (answer) {
        return false;
      }
      length = 0;
    }
    // Room for the few fields tollgate adds to a head it forwards or answers with.
    FlatHeaders h = new FlatHeaders(count + 4);
    for (int i = 0; i < count; i++) {
      int m = 4 * i;
      h.appendParsed(strings.name(b, marks[m], marks[m + 1]), strings.value(b, marks[m + 2], marks[m + 3]));
    }
    headers = h;
    contentLength = length;
    headLength = at + 2;
    return true;
  }

  /** The value of 1 to 18 digits without a leading zero (or "0"), else -1. */
  private static long digits(byte[] b, int from, int to) {
    int n = to - from;
    if (n < 1 || n > 18 || (b[from] == '0' && n > 1)) {
      return -1;
    }
    long v = 0;
    for (int i = from; i < to; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) {
        return -1;
      }
      v = v * 10 + d;
    }
    return v;
  }

  /** Whether {@code b} at {@code at} starts with lower-case {@code word}, ignoring ASCII case. */
  private static boolean sameIgnoringCase(byte[] b, int at, AsciiString word) {
    byte[] w = word.array();
    int o = word.arrayOffset();
    for (int i = 0, n = word.length(); i < n; i++) {
      int c = b[at + i];
      if (c >= 'A' && c <= 'Z') {
        c += 'a' - 'A';
      }
      if (c != w[o + i]) {
        return false;
      }
    }
    return true;
  }

  private static boolean isOws(byte c) {
    return c == SP || c == HT;
  }

  /** Printable ASCII, space or tab. */
  private static boolean isText(byte c) {
    return (c >= SP && c < 0x7f) || c == HT;
  }
}
