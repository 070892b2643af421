package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.DecoderResultProvider;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.InvalidChunkTerminationException;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.List;

/**
 * Which of a connection's messages a {@link BuyerCodec} or {@link BackendCodec} decoder reads
 * itself (a head {@link HeadParser} read, then its body) and which Netty's decoder reads; and the
 * body of the former, passed on as Netty's decoder passes it:
 *
 * <ul>
 *   <li>a {@code Content-Length} body: pieces of at most the chunk size as they arrive, the last
 *       as {@link LastHttpContent}, or {@link LastHttpContent#EMPTY_LAST_CONTENT} at once for an
 *       empty body (the last piece has no trailers: read-only empty ones, as that constant's);
 *   <li>a chunked body (answers only): each chunk's data in pieces of at most the chunk size as
 *       they arrive, and {@link LastHttpContent#EMPTY_LAST_CONTENT} for a terminal chunk with no
 *       trailers. A size line of 1 to 7 hex digits and CRLF, or a terminal chunk followed at once by
 *       the blank line, is read here; at any other size line (chunk extensions, spaces, longer
 *       sizes, a bare LF, trailers) the decoder hands the rest of the body to Netty's decoder
 *       ({@link #HAND_OFF}), which then reads it as it would have from the start. Data not
 *       followed by CRLF fails as Netty fails it ({@link InvalidChunkTerminationException}), and
 *       everything after it is discarded, as Netty's decoder discards it.
 * </ul>
 *
 * <p>Netty's decoder takes a message from its first byte to its last content, or from a size
 * line on, so the two never share one part: a head is read here only at a message boundary that
 * Netty's decoder is also at (nothing of the message given to it yet). Once Netty's decoder has
 * failed a message, every later byte is its to discard, as without this class.
 */
final class PlainBodies {

  /** {@link #read}: no message read here is under way; the bytes are a head's. */
  static final int NOT_MINE = 0;
  /** {@link #read}: the bytes were a body's, read (or waited for) here. */
  static final int READ = 1;
  /**
   * {@link #read}: a chunked body reached a size line only Netty's decoder reads; nothing of it was
   * consumed. The decoder gives Netty's decoder the rest of the body ({@link #nettyTakesChunks}).
   */
  static final int HAND_OFF = 2;

  private static final byte CR = '\r';
  private static final byte LF = '\n';
  private static final int MAX_HEX_DIGITS = 7;

  /** Chunked body states. */
  private static final int NO_CHUNKS = 0;
  private static final int SIZE = 1;
  private static final int DATA = 2;
  private static final int DELIMITER = 3;

  private final int maxChunkSize;

  /** The caches of the thread the decoder runs on, and a parser over them. */
  HeadStrings strings;
  HeadParser parser;

  /** Body bytes still to come of a {@code Content-Length} message read here; 0 between messages. */
  private long remaining;
  /** Where a chunked body read here is: {@link #NO_CHUNKS} when none is. */
  private int chunks = NO_CHUNKS;
  /** {@link #DATA}: bytes of the current chunk still to come. */
  private int chunkLeft;
  /** A chunk read here was not terminated by CRLF: every later byte is discarded. */
  private boolean discarding;
  /** Netty's decoder has begun a message (or a body) and not passed its last content yet. */
  private boolean nettyReading;
  /** Netty's decoder failed a message: it reads everything from now on. */
  private boolean nettyOnly;
  /** Heads read here, not by Netty's decoder. */
  long plainHeads;
  /** Chunked bodies handed to Netty's decoder part way. */
  long handedOff;

  PlainBodies(int maxChunkSize) {
    this.maxChunkSize = maxChunkSize;
    useThisThread();
  }

  /**
   * Reads with the calling thread's {@link HeadStrings}: called where the decoder is made and
   * again once it is on its channel, whose event loop then does all its reading.
   */
  void useThisThread() {
    HeadStrings here = HeadStrings.forThisThread();
    if (strings != here) {
      strings = here;
      parser = new HeadParser(here);
    }
  }

  /** Whether a head may be read here now rather than by Netty's decoder. */
  boolean mayReadHead() {
    return !nettyReading && !nettyOnly;
  }

  /**
   * Reads body bytes of a message whose head was read here, if one is under way.
   *
   * @return {@link #NOT_MINE}, {@link #READ} (nothing else is to be read from {@code in} in this
   *     call) or {@link #HAND_OFF}
   */
  int read(ByteBuf in, List<Object> out) {
    if (discarding) {
      in.skipBytes(in.readableBytes());
      return READ;
    }
    if (chunks != NO_CHUNKS) {
      return readChunks(in, out);
    }
    if (remaining == 0) {
      return NOT_MINE;
    }
    int toRead = (int) Math.min(Math.min(in.readableBytes(), maxChunkSize), remaining);
    if (toRead > 0) {
      ByteBuf content = in.readRetainedSlice(toRead);
      remaining -= toRead;
      // No trailers can follow a Content-Length body: read-only empty ones, as on Netty's
      // EMPTY_LAST_CONTENT, rather than a table per message.
      out.add(remaining == 0
          ? new DefaultLastHttpContent(content, EmptyHttpHeaders.INSTANCE)
          : new DefaultHttpContent(content));
    }
    return READ;
  }

  private int readChunks(ByteBuf in, List<Object> out) {
    while (true) {
      switch (chunks) {
        case SIZE -> {
          int r = in.readerIndex();
          int n = in.readableBytes();
          int digits = 0;
          int size = 0;
          while (digits < n && digits <= MAX_HEX_DIGITS) {
            int d = Character.digit(in.getByte(r + digits), 16);
            if (d < 0) {
              break;
            }
            size = size << 4 | d;
            digits++;
          }
          if (digits > MAX_HEX_DIGITS) {
            return HAND_OFF;
          }
          if (digits == n || digits + 1 == n && in.getByte(r + digits) == CR) {
            return READ; // the line goes on in a later read
          }
          if (digits == 0 || in.getByte(r + digits) != CR || in.getByte(r + digits + 1) != LF) {
            return HAND_OFF;
          }
          int lineEnd = digits + 2;
          if (size == 0) {
            // The terminal chunk: read here only with no trailers, the blank line right after it.
            if (lineEnd < n && in.getByte(r + lineEnd) != CR || lineEnd + 1 < n && in.getByte(r + lineEnd + 1) != LF) {
              return HAND_OFF;
            }
            if (lineEnd + 2 > n) {
              return READ;
            }
            in.skipBytes(lineEnd + 2);
            chunks = NO_CHUNKS;
            out.add(LastHttpContent.EMPTY_LAST_CONTENT);
            return READ;
          }
          in.skipBytes(lineEnd);
          chunkLeft = size;
          chunks = DATA;
        }
        case DATA -> {
          int toRead = Math.min(Math.min(chunkLeft, maxChunkSize), in.readableBytes());
          if (toRead == 0) {
            return READ;
          }
          out.add(new DefaultHttpContent(in.readRetainedSlice(toRead)));
          chunkLeft -= toRead;
          if (chunkLeft > 0) {
            return READ;
          }
          chunks = DELIMITER;
        }
        case DELIMITER -> {
          if (in.readableBytes() < 2) {
            return READ;
          }
          int r = in.readerIndex();
          if (in.getByte(r) != CR || in.getByte(r + 1) != LF) {
            // As Netty's decoder fails it, and discards the rest of the connection's bytes.
            in.skipBytes(in.readableBytes());
            chunks = NO_CHUNKS;
            discarding = true;
            LastHttpContent failed = new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER);
            failed.setDecoderResult(DecoderResult.failure(new InvalidChunkTerminationException()));
            out.add(failed);
            return READ;
          }
          in.skipBytes(2);
          chunks = SIZE;
        }
        default -> throw new IllegalStateException("chunk state " + chunks);
      }
    }
  }

  /**
   * Passes on a head read here, and its empty body at once if it has none.
   *
   * @param contentLength the body's length, or -1 for a chunked body
   */
  void head(HttpMessage head, long contentLength, List<Object> out) {
    plainHeads++;
    out.add(head);
    if (contentLength < 0) {
      chunks = SIZE;
    } else if (contentLength == 0) {
      out.add(LastHttpContent.EMPTY_LAST_CONTENT);
    } else {
      remaining = contentLength;
    }
  }

  /** A chunked body read here goes on in Netty's decoder, from the size line it stopped at. */
  void nettyTakesChunks() {
    chunks = NO_CHUNKS;
    nettyReading = true;
    handedOff++;
  }

  /** Notes what Netty's decoder passed on, {@code out} from {@code from}, in a call that reached it. */
  void nettyDecoded(List<Object> out, int from) {
    nettyReading = true;
    for (int i = from, n = out.size(); i < n; i++) {
      Object o = out.get(i);
      if (o instanceof DecoderResultProvider p && p.decoderResult().isFailure()) {
        nettyOnly = true;
      } else if (o instanceof LastHttpContent) {
        nettyReading = false;
      }
    }
  }

  /**
   * The connection closed. A body read here and cut short ends with no last content, as Netty's
   * decoder ends one.
   */
  void closed() {
    remaining = 0;
    chunks = NO_CHUNKS;
  }
}
