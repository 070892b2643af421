package io.tollgate.metering.usage;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The request side of "a streamed OpenAI call always reports usage": when a buyer streams a chat
 * or completions request without {@code stream_options.include_usage}, the gateway asks the
 * upstream for it ({@link #includeUsage}) and removes the extra usage chunk from the answer with
 * an {@link SseUsageChunkFilter}, so the buyer sees exactly the stream it asked for.
 *
 * <p>The body is read with Jackson's streaming parser for the positions of the few tokens that
 * matter, and the option is spliced into the original bytes. Why not a tree: reading the whole
 * request (a long prompt, images in base64) into a {@code JsonNode} tree and writing it back cost
 * a tree and a copy per call, and rewrote the buyer's bytes (number spellings, escapes, spacing)
 * for a change of a few bytes; now only the splice is new.
 */
public final class StreamUsage {

  private static final JsonFactory JSON = new JsonFactory();
  private static final byte[] NEW_OPTIONS = bytes(",\"stream_options\":{\"include_usage\":true}");
  private static final byte[] OPTIONS_OBJECT = bytes("{\"include_usage\":true}");
  private static final byte[] FIRST_MEMBER = bytes("\"include_usage\":true");
  private static final byte[] NEXT_MEMBER = bytes(",\"include_usage\":true");
  private static final byte[] TRUE = bytes("true");

  private StreamUsage() {}

  /**
   * A request body after {@link #includeUsage}.
   *
   * @param body the body to send upstream; the input array itself when nothing was added
   * @param usageAdded whether tollgate set {@code include_usage}, so the answer must go through an
   *     {@link SseUsageChunkFilter}
   */
  public record Rewrite(byte[] body, boolean usageAdded) {}

  /**
   * Sets {@code "stream_options":{"include_usage":true}} on a streamed ({@code "stream":true})
   * OpenAI chat/completions request, merged into existing {@code stream_options} and keeping every
   * other byte. A body that does not stream, already includes usage, or is not one JSON object
   * with an object (or null) {@code stream_options} is returned unchanged: the upstream answers it
   * as the buyer sent it, and usage is then estimated if the upstream reports none. A property
   * given twice counts as given last, as the upstream reads it.
   */
  public static Rewrite includeUsage(byte[] requestBody) {
    Rewrite unchanged = new Rewrite(requestBody, /* usageAdded= */ false);
    try (JsonParser p = JSON.createParser(requestBody)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return unchanged;
      }
      boolean stream = false;
      Options options = null; // absent
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if (name.equals("stream")) {
          stream = value == JsonToken.VALUE_TRUE;
        } else if (name.equals("stream_options")) {
          options = Options.read(p, value, requestBody);
        }
        p.skipChildren();
      }
      int rootClose = offset(p);
      if (p.nextToken() != null || !stream) {
        return unchanged;
      }
      if (options == null) {
        return added(requestBody, rootClose, rootClose, NEW_OPTIONS);
      }
      return switch (options.kind) {
        case Options.NULL -> added(requestBody, options.from, options.to, OPTIONS_OBJECT);
        case Options.OBJECT -> {
          if (options.includeTrue) {
            yield unchanged;
          }
          if (options.includeFrom >= 0) {
            yield added(requestBody, options.includeFrom, options.includeTo, TRUE);
          }
          yield added(requestBody, options.to, options.to, options.hasMembers ? NEXT_MEMBER : FIRST_MEMBER);
        }
        default -> unchanged;
      };
    } catch (IOException e) { // not JSON, or past the parser's limits
      return unchanged;
    }
  }

  /** The first member {@link #withFirstMemberIncludeUsage} adds. */
  private static final byte[] FIRST_OPTIONS = bytes("\"stream_options\":{\"include_usage\":true},");

  /**
   * {@link #includeUsage} for a body whose caller has already parsed it and knows it is a
   * streamed JSON object with at least one member and no {@code stream_options}: {@code
   * "stream_options":{"include_usage":true}} becomes its first member, in one copy into a buffer of
   * {@code alloc}, with no second parse (the gateway's common case). Does not move the body's
   * indices or release it.
   */
  public static ByteBuf withFirstMemberIncludeUsage(ByteBuf body, ByteBufAllocator alloc) {
    int start = body.readerIndex();
    int end = body.writerIndex();
    int open = body.indexOf(start, end, (byte) '{') + 1; // before it: only whitespace (or a BOM)
    ByteBuf copy = alloc.buffer(end - start + FIRST_OPTIONS.length);
    return copy.writeBytes(body, start, open - start).writeBytes(FIRST_OPTIONS).writeBytes(body, open, end - open);
  }

  /** {@link #includeUsage(byte[])} of the readable bytes; does not move indices or release. */
  public static Rewrite includeUsage(ByteBuf requestBody) {
    return includeUsage(ByteBufUtil.getBytes(requestBody));
  }

  /** {@code body} with {@code [from, to)} replaced by {@code insert}. */
  private static Rewrite added(byte[] body, int from, int to, byte[] insert) {
    byte[] out = new byte[body.length - (to - from) + insert.length];
    System.arraycopy(body, 0, out, 0, from);
    System.arraycopy(insert, 0, out, from, insert.length);
    System.arraycopy(body, to, out, from + insert.length, body.length - to);
    return new Rewrite(out, /* usageAdded= */ true);
  }

  /** Where the parser's current token begins. */
  private static int offset(JsonParser p) {
    return Math.toIntExact(p.currentTokenLocation().getByteOffset());
  }

  /** What the last {@code stream_options} holds, and where. */
  private static final class Options {
    static final int NULL = 0;
    static final int OBJECT = 1;
    static final int OTHER = 2;

    int kind;
    /** NULL: the literal; OBJECT: {@code to} is its closing brace. */
    int from;
    int to;
    boolean hasMembers;
    boolean includeTrue;
    /** The last {@code include_usage} value's bytes, or -1. */
    int includeFrom = -1;
    int includeTo = -1;

    /** Reads the value at the parser, leaving it on the value's last token. */
    static Options read(JsonParser p, JsonToken value, byte[] body) throws IOException {
      Options o = new Options();
      o.from = offset(p);
      if (value == JsonToken.VALUE_NULL) {
        o.kind = NULL;
        o.to = o.from + 4;
        return o;
      }
      if (value != JsonToken.START_OBJECT) {
        o.kind = OTHER;
        return o;
      }
      o.kind = OBJECT;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        o.hasMembers = true;
        String name = p.currentName();
        JsonToken v = p.nextToken();
        if (name.equals("include_usage")) {
          o.includeTrue = v == JsonToken.VALUE_TRUE;
          o.includeFrom = offset(p);
          o.includeTo = v.isStructStart() ? -1 : scalarEnd(body, o.includeFrom);
        }
        p.skipChildren();
        if (name.equals("include_usage") && v.isStructStart()) {
          o.includeTo = offset(p) + 1;
        }
      }
      o.to = offset(p);
      return o;
    }

    /** The end of the well-formed scalar that starts at {@code from}: a string, number or literal. */
    private static int scalarEnd(byte[] body, int from) {
      int i = from;
      if (body[i] == '"') {
        for (i++; body[i] != '"'; i++) {
          if (body[i] == '\\') {
            i++;
          }
        }
        return i + 1;
      }
      while (i < body.length && "{}[],: \t\r\n".indexOf(body[i]) < 0) {
        i++;
      }
      return i;
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
