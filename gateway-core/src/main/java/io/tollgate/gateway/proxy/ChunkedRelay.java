package io.tollgate.gateway.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.CorruptedFrameException;
import java.nio.charset.StandardCharsets;

/**
 * Relays a chunked upstream body to the buyer in the upstream's own chunk framing: the bytes read
 * are written on as they are, not decoded into chunks and encoded again. Sits on a backend
 * channel before the HTTP client codec, where bytes are still bytes.
 *
 * <p>Every response head goes to the codec as usual: this handler finds where the head ends
 * (the first empty line), gives the codec exactly the head, and the codec hands it to the {@link
 * Exchange}, which decides, while the head is being decoded, whether the body is relayed
 * ({@link #relay}: a 2xx event stream, chunked, that tollgate does not rewrite). If it is not,
 * everything else goes to the codec, as without this handler. If it is, this handler reads the
 * chunk framing itself: it hands each read's body bytes to the exchange once ({@link
 * Sink#onRelayed}: the bytes to write, and the chunk data in them, for the usage scan), and
 * gives the codec the terminal chunk, so the codec ends the response ({@code LastHttpContent}) and
 * is ready for the connection's next one; the buyer's codec writes its own terminal chunk after
 * the usage has been journaled.
 *
 * <p>The framing is read strictly, as the codec would: hex sizes (chunk extensions are skipped),
 * CRLF line ends, a CRLF after each chunk's data, a size line of at most {@value #MAX_SIZE_LINE}
 * bytes and sizes below 2^31. Anything else ends the call as a broken answer ({@link
 * Sink#onBrokenResponse}), and nothing more is read from the connection.
 *
 * <p>Confined to the channel's event loop; reset for each exchange that acquires the connection.
 */
final class ChunkedRelay extends ChannelInboundHandlerAdapter {

  static final int MAX_SIZE_LINE = 1024;

  /** Where a relayed body goes: the exchange, which holds the buyer's connection. */
  interface Sink {
    /** Chunk data, for the usage scan: {@code length} bytes of {@code in} at {@code index}; not retained. */
    void scanRelayed(ByteBuf in, int index, int length);

    /** Body bytes, framing and all, to write to the buyer as they are; the sink owns them. */
    void onRelayed(ByteBuf bytes);

    /**
     * In whole-chunk mode ({@link #relay(Sink, boolean)}), a complete chunk's data, read once:
     * null when the buyer gets the chunk as it is, else what the buyer gets instead (the sink's
     * bytes, which the relay frames as a chunk of their own, or nothing when empty). Not retained.
     */
    default ByteBuf replaceChunk(ByteBuf in, int index, int length) {
      scanRelayed(in, index, length);
      return null;
    }

    /** The framing broke: nothing more is relayed or decoded. */
    void onBrokenResponse(Throwable cause);
  }

  private enum State {
    /** Looking for the end of a response head; what is read goes to the codec. */
    HEAD,
    /** The head went to the codec and the body is not relayed: everything goes to the codec. */
    DECODE,
    /** Relaying: reading a chunk's size line. */
    SIZE,
    /** Relaying: skipping a chunk extension up to the end of its size line. */
    EXTENSION,
    /** Relaying: expecting the LF of a size line. */
    SIZE_LF,
    /** Relaying: inside a chunk's data. */
    DATA,
    /** Relaying: expecting the CR after a chunk's data. */
    DATA_CR,
    /** Relaying: expecting the LF after a chunk's data. */
    DATA_LF,
    /** The framing broke; everything read is dropped. */
    BROKEN
  }

  private State state = State.HEAD;
  private int headMatch; // how much of CRLFCRLF the bytes read so far end with
  private boolean relayRequested;
  private Sink exchange;
  private long chunkLeft; // DATA: bytes of the current chunk still to come
  private long size; // SIZE: the size read so far
  private int sizeLineBytes;
  private boolean sizeDigits;
  private boolean wholeChunks;
  private ByteBuf partial; // the start of a size line or chunk cut by the end of a read
  private static final byte[] CRLF = {'\r', '\n'};
  /** The most a chunk may hold back in whole-chunk mode before the codec takes over. */
  static final int MAX_HELD_CHUNK = 64 * 1024;

  /** Every exchange that acquires the connection starts with a new head. */
  void reset() {
    releasePartial();
    state = State.HEAD;
    headMatch = 0;
    relayRequested = false;
    exchange = null;
  }

  /**
   * Called by the exchange while the codec decodes the head this handler gave it: the body that
   * follows is relayed to {@code exchange}.
   */
  void relay(Sink exchange) {
    relay(exchange, false);
  }

  /**
   * As {@link #relay(Sink)}; with {@code wholeChunks}, each chunk is given to the sink whole,
   * once it has been read to its end ({@link Sink#replaceChunk}), and the sink may replace it: a
   * chunk cut by the end of a read waits (as a slice, no copy) for the rest. A chunk larger than
   * {@value #MAX_HELD_CHUNK} bytes is not waited for: from its start on, the codec decodes the
   * body, and the exchange reads the rest as decoded content.
   */
  void relay(Sink exchange, boolean wholeChunks) {
    this.exchange = exchange;
    this.wholeChunks = wholeChunks;
    this.relayRequested = true;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf in)) {
      ctx.fireChannelRead(msg);
      return;
    }
    switch (state) {
      case DECODE -> ctx.fireChannelRead(in);
      case BROKEN -> in.release();
      case HEAD -> readHead(ctx, in);
      default -> readBody(ctx, in);
    }
  }

  private void readHead(ChannelHandlerContext ctx, ByteBuf in) {
    int end = headEnd(in);
    if (end < 0) {
      ctx.fireChannelRead(in);
      return;
    }
    int bodyStart = end + 1;
    if (bodyStart == in.writerIndex()) {
      // the head alone: the codec decodes it, and the exchange's choice applies from the next read
      state = State.DECODE;
      ctx.fireChannelRead(in);
      afterHead();
      return;
    }
    ByteBuf rest = in.retainedSlice(bodyStart, in.writerIndex() - bodyStart);
    state = State.DECODE;
    ctx.fireChannelRead(in.writerIndex(bodyStart));
    afterHead();
    channelRead(ctx, rest);
  }

  private void afterHead() {
    if (relayRequested) {
      relayRequested = false;
      startChunk();
    }
  }

  private void startChunk() {
    state = State.SIZE;
    size = 0;
    sizeLineBytes = 0;
    sizeDigits = false;
  }

  /** The index of the last byte of the head's empty line in {@code in}, or -1; remembers partial ends. */
  private int headEnd(ByteBuf in) {
    for (int i = in.readerIndex(), n = in.writerIndex(); i < n; i++) {
      byte b = in.getByte(i);
      switch (headMatch) {
        case 0, 2 -> headMatch = b == '\r' ? headMatch + 1 : 0;
        case 1 -> headMatch = b == '\n' ? 2 : (b == '\r' ? 1 : 0);
        case 3 -> {
          if (b == '\n') {
            headMatch = 0;
            return i;
          }
          headMatch = b == '\r' ? 1 : 0;
        }
        default -> headMatch = 0;
      }
    }
    return -1;
  }

  /**
   * Walks the framing of what was read: the bytes up to the terminal chunk go to the exchange in
   * one piece, with each chunk's data scanned on the way (or, in whole-chunk mode, each whole chunk
   * offered for replacement); the terminal chunk and what follows it go to the codec. A size line
   * (in whole-chunk mode: a chunk) cut by the end of a read is kept back and read again from its
   * start with the next read, so the buyer never receives part of the terminal chunk's line before
   * tollgate's own terminal chunk.
   */
  private void readBody(ChannelHandlerContext ctx, ByteBuf read) {
    ByteBuf in = read;
    if (partial != null) {
      in = Unpooled.wrappedBuffer(partial, read);
      partial = null;
      startChunk();
    }
    int start = in.readerIndex();
    int end = in.writerIndex();
    int i = start;
    int relayFrom = start; // the bytes from here on go to the buyer as they are
    int lineStart = start; // where the current chunk's size line starts
    int dataStart = start;
    int terminal = -1; // where the terminal chunk's size line starts
    try {
      while (i < end && terminal < 0) {
        switch (state) {
          case DATA -> {
            int n = (int) Math.min(chunkLeft, end - i);
            if (!wholeChunks) {
              exchange.scanRelayed(in, i, n);
            }
            i += n;
            chunkLeft -= n;
            if (chunkLeft == 0) {
              state = State.DATA_CR;
            }
          }
          case SIZE -> {
            if (sizeLineBytes == 0) {
              lineStart = i;
            }
            byte b = in.getByte(i++);
            lineByte();
            int digit = Character.digit(b, 16);
            if (digit >= 0) {
              size = size * 16 + digit;
              sizeDigits = true;
              if (size > Integer.MAX_VALUE) {
                throw new CorruptedFrameException("chunk size too large");
              }
            } else if (b == ';' && sizeDigits) {
              state = State.EXTENSION;
            } else if (b == '\r' && sizeDigits) {
              state = State.SIZE_LF;
            } else {
              throw new CorruptedFrameException("invalid chunk size line");
            }
          }
          case EXTENSION -> {
            byte b = in.getByte(i++);
            lineByte();
            if (b == '\r') {
              state = State.SIZE_LF;
            } else if (b == '\n') {
              throw new CorruptedFrameException("bare LF in a chunk size line");
            }
          }
          case SIZE_LF -> {
            if (in.getByte(i) != '\n') {
              throw new CorruptedFrameException("chunk size line without CRLF");
            }
            if (size == 0) {
              terminal = lineStart; // from the terminal chunk's size line on, the codec ends the response
            } else {
              i++;
              chunkLeft = size;
              dataStart = i;
              state = State.DATA;
            }
          }
          case DATA_CR -> {
            if (in.getByte(i++) != '\r') {
              throw new CorruptedFrameException("chunk data not followed by CRLF");
            }
            state = State.DATA_LF;
          }
          case DATA_LF -> {
            if (in.getByte(i++) != '\n') {
              throw new CorruptedFrameException("chunk data not followed by CRLF");
            }
            if (wholeChunks) {
              ByteBuf instead = exchange.replaceChunk(in, dataStart, (int) size);
              if (instead != null) {
                if (lineStart > relayFrom) {
                  exchange.onRelayed(in.retainedSlice(relayFrom, lineStart - relayFrom));
                }
                relayFrom = i;
                if (instead.isReadable()) {
                  byte[] sizeLine = (Integer.toHexString(instead.readableBytes()) + "\r\n").getBytes(StandardCharsets.US_ASCII);
                  exchange.onRelayed(Unpooled.wrappedBuffer(Unpooled.wrappedBuffer(sizeLine), instead,
                      Unpooled.wrappedBuffer(CRLF)));
                } else {
                  instead.release();
                }
              }
            }
            startChunk();
          }
          default -> throw new IllegalStateException(state.name());
        }
      }
    } catch (CorruptedFrameException e) {
      state = State.BROKEN;
      in.release();
      Sink ex = exchange;
      exchange = null;
      ex.onBrokenResponse(e);
      return;
    }
    boolean atBoundary = state == State.SIZE && sizeLineBytes == 0;
    boolean lineCut = terminal < 0 && !atBoundary && (wholeChunks || state == State.EXTENSION
        || state == State.SIZE_LF || state == State.SIZE);
    if (lineCut && wholeChunks && end - lineStart > MAX_HELD_CHUNK) {
      // too large a chunk to wait for: the codec decodes from its start on
      terminal = lineStart;
      lineCut = false;
    }
    int relayEnd = terminal >= 0 ? terminal : lineCut ? lineStart : end;
    if (relayEnd > relayFrom) {
      exchange.onRelayed(in.retainedSlice(relayFrom, relayEnd - relayFrom));
    }
    if (lineCut) {
      partial = wholeChunks ? in.retainedSlice(lineStart, end - lineStart) : in.copy(lineStart, end - lineStart);
    }
    if (terminal < 0) {
      in.release();
      return;
    }
    state = State.DECODE;
    exchange = null;
    ByteBuf tail = in.retainedSlice(terminal, end - terminal);
    in.release();
    ctx.fireChannelRead(tail);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    releasePartial();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    releasePartial();
    ctx.fireChannelInactive();
  }

  private void releasePartial() {
    if (partial != null) {
      partial.release();
      partial = null;
    }
  }

  private void lineByte() {
    if (++sizeLineBytes > MAX_SIZE_LINE) {
      throw new CorruptedFrameException("chunk size line longer than " + MAX_SIZE_LINE + " bytes");
    }
  }
}
