package io.tollgate.metering.usage;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Reads a JSON document as it streams past, in pieces cut anywhere, and keeps only what metering
 * needs: the counts of the usage objects, the completion-text strings, and whether the document
 * is the usage-only chunk tollgate asked for ({@link #usageChunk()}). It does so without
 * tokenizing the rest, and without allocating.
 *
 * <p>Why not a JSON parser over every byte: a chat answer is mostly text and ids that metering
 * never looks at, and a tokenizer turns every string into chars and every name into a symbol. This
 * class follows only the structure: strings, two thirds of an OpenAI chunk's bytes, are run through
 * eight bytes at a time ({@link #stringStop}), and a container no usage or text path can reach
 * ({@link PathTrie#DEAD}) has its names passed over like any string. A name in a live container is matched where it lies in the input
 * (copied only when it spans pieces). A usage object is handed to {@link UsageObjectReader}, which
 * reads its counts straight into a {@link UsageReport}; a completion string is decoded into the
 * text as it passes ({@link JsonStringDecoder}), and no longer read once the text is at its bound,
 * so a 20 MB answer costs the kept text, not 20 MB.
 *
 * <p>A JSON body (not {@code lineMode}) has two more shortcuts. A value string is found whole by
 * its quotes alone, one test a word rather than three ({@link #closingQuote}: a quote after an odd
 * run of backslashes is escaped), and a completion string's runs of plain ASCII are copied into
 * the text as they lie ({@link JsonStringDecoder}, {@link CompletionText#appendAscii}); with the
 * usage object read by descent when it is whole ({@link UsageObjectReader}), ExtractionBenchmark's
 * 1 KB chat body, its reader reused, went from 1.96 to 0.90 us of CPU with the text kept and from
 * 0.98 to 0.66 without (16 KB: 25.3 to 9.4, and 5.6 to 2.5; shared 2-core machine, so ±20%).
 *
 * <p>Skipped values are not validated: a malformed number in a field nobody reads does not hide a
 * well-formed usage object. The structure still is: an unbalanced or truncated document is never
 * {@link #complete()}, and its usage does not count.
 *
 * <p>For an SSE stream ({@code lineMode}) a CR or LF stops the reading wherever it is, even inside
 * a string: it ends the data line, and the line after it continues the document
 * ({@link #lineBreak()}).
 *
 * <p>The events of a stream begin alike: an OpenAI chunk's first 200 bytes (id, model,
 * fingerprint, {@code "choices":[{"index":0,"delta":{"content"}) repeat from one chunk to the next,
 * and only the text after them changes. The skimmer is a state machine whose state after a prefix
 * depends on nothing but the prefix, so it keeps a template ({@link #feedEventStart}): the first
 * bytes of the last event, up to the last live name before anything was kept (text or usage),
 * and its state there. An event that begins with the same bytes, checked with one
 * vectorized comparison, resumes from the last checkpoint inside the common part (up to {@link
 * #MAX_CHECKPOINTS} are kept, so a varying field after the last one costs only the rest); the
 * rest is read as usual. Measured on an OpenAI chat stream: 2.2 times the bytes per second.
 *
 * <p>The events end alike too ({@code "},"finish_reason":null}],"usage":null,"obfuscation":"..."}}):
 * when the template runs up to a completion string (the delta's content), an event that matches
 * all of it has its string run through and decoded, and the bytes after its closing quote are
 * matched against the template's tail the same way, resuming at the tail's last checkpoint within
 * the common part. An event that parts from the template before its end (the content chunks from
 * the role chunk that opens a stream), or follows one cut short by a piece's end, becomes the
 * template. Measured with SsePassBenchmark's stream (one event per buffer): 0.78 to 1.6 GB/s.
 *
 * <p>Not thread-safe; one per response reader, confined to its event loop, reused per document.
 */
final class JsonSkimmer {

  /** Largest usage object read; a bigger one is not a usage report, and the document counts as unreadable. */
  static final int MAX_USAGE_BYTES = 64 * 1024;
  private static final int MAX_DEPTH = 256;

  // What a byte outside strings is.
  private static final byte OTHER = 0; // a number or literal: passed over
  private static final byte SPACE = 1;
  private static final byte LINE_END = 2;
  private static final byte QUOTE = 3;
  private static final byte OPEN = 4;
  private static final byte CLOSE = 5;
  private static final byte COMMA = 6;
  private static final byte COLON = 7;
  private static final byte[] CLASS = new byte[256];
  private static final byte[] LF = {'\n'};

  /** Eight bytes of an array at once, as a little-endian long: the first byte is the lowest. */
  private static final VarHandle WORDS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long ONES = 0x0101010101010101L;
  private static final long HIGH_BITS = 0x8080808080808080L;
  private static final long QUOTES = 0x2222222222222222L;
  private static final long BACKSLASHES = 0x5C5C5C5C5C5C5C5CL;
  private static final long SPACES = 0x2020202020202020L;

  static {
    CLASS[' '] = SPACE;
    CLASS['\t'] = SPACE;
    CLASS['\n'] = LINE_END;
    CLASS['\r'] = LINE_END;
    CLASS['"'] = QUOTE;
    CLASS['{'] = OPEN;
    CLASS['['] = OPEN;
    CLASS['}'] = CLOSE;
    CLASS[']'] = CLOSE;
    CLASS[','] = COMMA;
    CLASS[':'] = COLON;
  }

  // The string being read: none, one nobody reads, a name to match, completion text.
  private static final int NO_STRING = 0;
  private static final int SKIPPED = 1;
  private static final int NAME = 2;
  private static final int TEXT = 3;

  // The root's choices property, for the usage-chunk test.
  private static final int CHOICES_ABSENT = 0;
  private static final int CHOICES_EMPTY = 1;
  private static final int CHOICES_NOT_EMPTY = 2;
  private static final int CHOICES_NOT_ARRAY = 3;

  private final CompletionText text;
  private final JsonStringDecoder decoder;
  private final UsageObjectReader usageReader = new UsageObjectReader();
  private UsageReport[] reports = {new UsageReport()};
  private int reportCount;
  private PathTrie trie;
  private long maxPerField;

  // Per open container: whether it is an array, its node, whether any of its names is live, and
  // the index of its current element.
  private boolean[] isArray = new boolean[16];
  private int[] node = new int[16];
  private boolean[] liveNames = new boolean[16];
  private int[] index = new int[16];
  private int depth;
  private boolean expectValue;
  /** The node of the value after the name just read. */
  private int nameNode;

  private int string;
  private boolean stringIsName;
  /** The string's last byte so far is a backslash: the next piece begins with what it escapes. */
  private boolean escaped;
  private boolean stringEscaped;
  /** A name that spans pieces, kept up to the longest the trie knows. */
  private byte[] name = new byte[32];
  private int nameLength;
  private boolean nameSpans;
  private boolean nameTooLong;
  /** The completion string being read began in an earlier piece (or line). */
  private boolean textSpans;

  private boolean inUsage;
  private int usageBytes;

  // The template: the first bytes of an event, and the state at each live name in them until
  // text or usage was first read (the checkpoints). When that is a completion string whole in
  // the piece, the template runs to its opening quote (textOpen), and a second one, the tail,
  // begins after its closing quote: the state there, and at each name after it until anything
  // else is read (the tail's checkpoints). Both share one array: the head at 0, the tail at
  // MAX_TEMPLATE.
  private static final int MAX_TEMPLATE = 512;
  private static final int MAX_CHECKPOINTS = 8;
  private static final int MAX_TAIL_CHECKPOINTS = 4;
  private byte[] template;
  private int templateLength;
  private final Checkpoint[] checkpoints = new Checkpoint[MAX_CHECKPOINTS];
  private int checkpointCount;
  /** Where in the template the completion string's content begins; -1 if it has no tail. */
  private int textOpen = -1;
  private int tailLength;
  private final Checkpoint[] tailCheckpoints = new Checkpoint[MAX_TAIL_CHECKPOINTS];
  private int tailCount;
  /**
   * Where the template being taken began in the piece being read (this event's first data line,
   * or just after its completion string for the tail); else -1.
   */
  private int recordFrom = -1;
  private boolean recordingTail;
  /** The template (or its tail) was cut short by the end of a piece: the next event retakes it. */
  private boolean templateCut;

  // The document's root, for usageChunk().
  private boolean rootSeen;
  private boolean rootObject;
  private int choices;
  private boolean usageObject;

  private boolean complete;
  private boolean failed;

  /** The skimmer's state after a name, before its colon, {@code at} bytes into the template. */
  private static final class Checkpoint {
    int at;
    int depth;
    int nameNode;
    boolean[] isArray = new boolean[8];
    int[] node = new int[8];
    boolean[] liveNames = new boolean[8];
    int[] index = new int[8];
    boolean rootObject;
    int choices;
    boolean usageObject;
  }

  JsonSkimmer(CompletionText text) {
    this.text = text;
    this.decoder = new JsonStringDecoder(text);
  }

  /** Readies the skimmer for a response: the paths to follow, the bound on counts. */
  void start(PathTrie trie, long maxPerField) {
    this.trie = trie;
    this.maxPerField = maxPerField;
    templateLength = 0;
    checkpointCount = 0;
    textOpen = -1;
    tailCount = 0;
    templateCut = false;
    reset();
  }

  /** Starts over, for the next document (the next SSE event). */
  void reset() {
    reportCount = 0;
    depth = 0;
    expectValue = true;
    nameNode = PathTrie.DEAD;
    string = NO_STRING;
    escaped = false;
    inUsage = false;
    rootSeen = false;
    rootObject = false;
    choices = CHOICES_ABSENT;
    usageObject = false;
    complete = false;
    failed = false;
    recordFrom = -1;
  }

  /** True once the document's one JSON value has ended; what follows it is ignored. */
  boolean complete() {
    return complete && !failed;
  }

  boolean failed() {
    return failed;
  }

  /** How many usage objects the document held; meaningful once {@link #complete()}. */
  int reportCount() {
    return reportCount;
  }

  /** The {@code k}th usage object of the document, in document order. */
  UsageReport report(int k) {
    return reports[k];
  }

  /**
   * Whether the document is the usage chunk tollgate asks an OpenAI upstream for: an object
   * whose {@code choices} is an empty array and whose {@code usage} is an object. A property
   * given twice counts as given last, as in a JSON tree, except that a document that showed a
   * choice never is the usage chunk: so the answer is known early, and the same however the
   * document is cut.
   */
  boolean usageChunk() {
    return complete() && rootObject && choices == CHOICES_EMPTY && usageObject;
  }

  /**
   * Whether the bytes so far already show the document is not the usage chunk, whatever follows:
   * it is not an object, has a choice, is unreadable, or ended without being one.
   */
  boolean cannotBeUsageChunk() {
    return failed || (rootSeen && !rootObject) || choices == CHOICES_NOT_EMPTY || (complete && !usageChunk());
  }

  /** Between two data lines of one SSE event: the line break is part of the document. */
  void lineBreak() {
    feed(LF, 0, 1, /* lineMode= */ false);
  }

  /**
   * {@link #feed} of an SSE event's first data line, the skimmer just {@link #reset()}: if the
   * bytes begin as the template does, up to one of its checkpoints, the state there is taken and
   * reading goes on after it; else the line is read and a new template taken from it (also from
   * the last checkpoint the two share, when the template goes on past it). An event
   * that begins as the whole template does, up to its completion string, has the string read and
   * goes on the same way after it, with the tail ({@link #resumeAfterText}).
   */
  int feedEventStart(byte[] b, int i, int end) {
    if (checkpointCount > 0) {
      int n = Math.min(templateLength, end - i);
      int same = Arrays.mismatch(b, i, i + n, template, 0, n);
      if (same < 0) {
        same = n;
      }
      if (same == textOpen && !templateCut) {
        int stop = resumeAfterText(b, i + same, end);
        if (stop >= 0) {
          return stop;
        }
      }
      for (int k = checkpointCount - 1; k >= 0; k--) {
        Checkpoint c = checkpoints[k];
        if (c.at <= same) {
          restore(c);
          if (templateCut || (same < n && !text.full())) {
            // This event parts from the template after c (as a stream's content chunks do from its
            // first, the role chunk), or the template was cut short: this event becomes the
            // template, its first checkpoints those the two share. Without text to keep there is
            // no tail to find, and events that differ in their text would retake it each time.
            recordFrom = i;
            recordingTail = false;
            checkpointCount = k + 1;
            textOpen = -1;
            tailCount = 0;
            templateCut = false;
          }
          return feed(b, i + c.at, end, /* lineMode= */ true);
        }
      }
    }
    recordFrom = i;
    recordingTail = false;
    checkpointCount = 0; // a new template replaces the old one
    templateLength = 0;
    textOpen = -1;
    tailCount = 0;
    templateCut = false;
    return feed(b, i, end, /* lineMode= */ true);
  }

  /**
   * The event's bytes up to {@code from}, the content of its completion string, are the
   * template's: the state there is the template event's, since it depends on nothing but those
   * bytes. A string that closes plainly in this line is decoded, and after its closing quote the
   * tail is matched as the template is: reading resumes at its last checkpoint within the common
   * part (the first is the quote itself). -1, nothing done, if the string does not close plainly.
   */
  private int resumeAfterText(byte[] b, int from, int end) {
    if (tailCount == 0) {
      return -1;
    }
    int close = stringStop(b, from, end);
    if (close == end || b[close] != '"') {
      return -1; // an escape, or the line or piece ends in it: read from a checkpoint before it
    }
    if (!text.full() && !decoder.decodeWhole(b, from, close - from)) {
      restore(tailCheckpoints[0]);
      failed = true;
      return close;
    }
    int at = close + 1;
    int n = Math.min(tailLength, end - at);
    int same = Arrays.mismatch(b, at, at + n, template, MAX_TEMPLATE, MAX_TEMPLATE + n);
    if (same < 0) {
      same = n;
    }
    int k = tailCount - 1;
    while (tailCheckpoints[k].at > same) {
      k--; // the first, at 0, always fits
    }
    Checkpoint c = tailCheckpoints[k];
    restore(c);
    return feed(b, at + c.at, end, /* lineMode= */ true);
  }

  /**
   * After a live name (at {@code at}), or while the tail is taken after any name or the completion
   * string itself, nothing else touched yet: a checkpoint.
   */
  private void checkpoint(int at, int depth) {
    Checkpoint[] set = recordingTail ? tailCheckpoints : checkpoints;
    int k = recordingTail ? tailCount : checkpointCount;
    if (k == set.length || at - recordFrom > MAX_TEMPLATE) {
      return;
    }
    Checkpoint c = set[k];
    if (c == null) {
      c = set[k] = new Checkpoint();
    }
    if (depth > c.node.length) {
      c.isArray = new boolean[depth];
      c.node = new int[depth];
      c.liveNames = new boolean[depth];
      c.index = new int[depth];
    }
    c.at = at - recordFrom;
    c.depth = depth;
    c.nameNode = nameNode;
    System.arraycopy(isArray, 0, c.isArray, 0, depth);
    System.arraycopy(node, 0, c.node, 0, depth);
    System.arraycopy(liveNames, 0, c.liveNames, 0, depth);
    System.arraycopy(index, 0, c.index, 0, depth);
    c.rootObject = rootObject;
    c.choices = choices;
    c.usageObject = usageObject;
    if (recordingTail) {
      tailCount = k + 1;
    } else {
      checkpointCount = k + 1;
    }
  }

  /** No more checkpoints in this event: the template (or tail) is its bytes up to the last one. */
  private void takeTemplate(byte[] b) {
    if (recordingTail) {
      tailLength = tailCheckpoints[tailCount - 1].at; // the first is taken as the tail begins
      System.arraycopy(b, recordFrom, template, MAX_TEMPLATE, tailLength);
    } else if (checkpointCount > 0) {
      int n = checkpoints[checkpointCount - 1].at;
      if (template == null) {
        template = new byte[2 * MAX_TEMPLATE];
      }
      System.arraycopy(b, recordFrom, template, 0, n);
      templateLength = n;
    }
    recordFrom = -1;
    recordingTail = false;
  }

  /**
   * A completion string whole in the piece is about to be read while the template is taken: the
   * template ends at its opening quote ({@code from}); returns whether the tail is to be taken
   * after it. Else it is a plain {@link #touch}.
   */
  private boolean textOpens(byte[] b, int from, int depth) {
    int open = from - recordFrom;
    if (recordingTail || checkpointCount == 0 || open > MAX_TEMPLATE || depth == 0) {
      touch(b);
      return false;
    }
    if (template == null) {
      template = new byte[2 * MAX_TEMPLATE];
    }
    System.arraycopy(b, recordFrom, template, 0, open);
    templateLength = open;
    textOpen = open;
    recordFrom = -1;
    return true;
  }

  /** The completion string closed at {@code close - 1}: the tail begins, its first checkpoint here. */
  private void tailStarts(int at, int depth) {
    recordFrom = at;
    recordingTail = true;
    tailCount = 0;
    checkpoint(at, depth);
  }

  /** Text or usage is about to be read: no checkpoint after this. */
  private void touch(byte[] b) {
    if (recordFrom >= 0) {
      takeTemplate(b);
    }
  }

  /** The state at a checkpoint: just after a name, before its colon. */
  private void restore(Checkpoint c) {
    int depth = c.depth;
    if (depth > isArray.length) {
      isArray = new boolean[depth * 2];
      node = new int[depth * 2];
      liveNames = new boolean[depth * 2];
      index = new int[depth * 2];
    }
    // One loop rather than four arraycopy stubs: a checkpoint is a few levels deep, and this runs per event.
    for (int k = 0; k < depth; k++) {
      isArray[k] = c.isArray[k];
      node[k] = c.node[k];
      liveNames[k] = c.liveNames[k];
      index[k] = c.index[k];
    }
    this.depth = depth;
    expectValue = false;
    nameNode = c.nameNode;
    rootSeen = true;
    rootObject = c.rootObject;
    choices = c.choices;
    usageObject = c.usageObject;
  }

  /**
   * Reads the next bytes of the document; returns where it stopped: {@code end}, a CR or LF in
   * {@code lineMode}, or anywhere once the document is {@link #complete()} or {@link #failed()}.
   */
  int feed(byte[] b, int i, int end, boolean lineMode) {
    int stop = read(b, i, end, lineMode);
    if (recordFrom >= 0) {
      templateCut = stop == end && !complete && !failed;
      takeTemplate(b); // a template is taken within the piece and line it began in
    }
    return stop;
  }

  private int read(byte[] b, int i, int end, boolean lineMode) {
    if (complete || failed) {
      return i;
    }
    if (inUsage) {
      i = readUsage(b, i, end, lineMode);
      if (inUsage || failed) {
        return i;
      }
    } else if (string != NO_STRING) {
      i = readString(b, i, end, lineMode);
      if (string != NO_STRING || complete || failed) {
        return i;
      }
    }
    return scan(b, i, end, lineMode);
  }

  /**
   * The structure, between strings and usage objects. The hot loop: its state is in locals, and a
   * string that closes in this piece without an escape, nearly every one, is handled in place;
   * anything else saves the state and goes the piecewise way ({@link #readString}).
   */
  private int scan(byte[] b, int i, int end, boolean lineMode) {
    int depth = this.depth;
    boolean expectValue = this.expectValue;
    while (i < end) {
      byte c = b[i];
      switch (CLASS[c & 0xFF]) {
        case SPACE -> i++;
        case LINE_END -> {
          if (lineMode) {
            return save(depth, expectValue, i);
          }
          i++;
        }
        case COMMA -> {
          expectValue = depth > 0 && isArray[depth - 1];
          i++;
        }
        case COLON -> {
          expectValue = true;
          i++;
        }
        case QUOTE -> {
          int from = i + 1;
          if (expectValue && !lineMode) { // a value in a body: found whole with one test a word
            expectValue = false;
            int n = valueStarts(depth, c);
            boolean isText = n != PathTrie.DEAD && (trie.flags(n) & PathTrie.TEXT) != 0 && !text.full();
            int close = closingQuote(b, from, end);
            if (close < 0) { // the piece cuts it: read it piecewise
              save(depth, false, i);
              i = startValueString(isText, b, from, end, lineMode);
              if (string != NO_STRING || complete || failed) {
                return i;
              }
              continue;
            }
            if (isText && !decoder.decodeWhole(b, from, close - from)) {
              failed = true;
              return save(depth, false, close);
            }
            if (depth == 0) {
              complete = true; // a string root: a whole document without usage
              return save(depth, false, close + 1);
            }
            i = close + 1;
            continue;
          }
          int close = lineMode ? stringStop(b, from, end) : quoteStop(b, from, end);
          if (close < end && b[close] == '"') { // whole and plain
            if (expectValue) {
              expectValue = false;
              int n = valueStarts(depth, c);
              if (n != PathTrie.DEAD && (trie.flags(n) & PathTrie.TEXT) != 0 && !text.full()) {
                boolean tail = recordFrom >= 0 && textOpens(b, from, depth);
                if (!decoder.decodeWhole(b, from, close - from)) {
                  failed = true;
                  return save(depth, expectValue, close);
                }
                if (tail) {
                  tailStarts(close + 1, depth);
                }
              }
              if (depth == 0) {
                complete = true; // a string root: a whole document without usage
                return save(depth, expectValue, close + 1);
              }
            } else {
              if (depth == 0 || isArray[depth - 1]) {
                failed = true; // a string where a value cannot be
                return save(depth, expectValue, i);
              }
              int n = liveNames[depth - 1] ? trie.property(node[depth - 1], b, from, close - from) : PathTrie.DEAD;
              nameNode = n;
              if (recordFrom >= 0 && (n != PathTrie.DEAD || recordingTail)) { // nothing touched while recordFrom is set
                checkpoint(close + 1, depth);
              }
              if (close + 1 < end && b[close + 1] == ':') { // the usual "name": taken in the same step
                expectValue = true;
                i = close + 2;
                continue;
              }
            }
            i = close + 1;
            continue;
          }
          save(depth, expectValue, i);
          i = startString(b, from, end, lineMode);
          if (string != NO_STRING || complete || failed) {
            return i;
          }
          expectValue = this.expectValue;
        }
        case OPEN -> {
          expectValue = c == '[';
          int n = valueStarts(depth, c);
          if (c == '{' && n != PathTrie.DEAD && (trie.flags(n) & PathTrie.USAGE) != 0) {
            save(depth, false, i);
            touch(b);
            startUsage();
            i = readUsage(b, i, end, lineMode);
            if (inUsage || failed) {
              return i;
            }
            expectValue = false;
            continue;
          }
          if (depth == MAX_DEPTH) {
            failed = true;
            return save(depth, expectValue, i);
          }
          push(depth++, c == '[', n);
          i++;
        }
        case CLOSE -> {
          if (depth == 0 || isArray[depth - 1] != (c == ']')) {
            failed = true;
            return save(depth, expectValue, i);
          }
          depth--;
          expectValue = false;
          i++;
          if (depth == 0) {
            complete = true; // the one value has ended
            return save(depth, expectValue, i);
          }
        }
        default -> { // a number, true, false or null: read past, never parsed
          if (expectValue) {
            expectValue = false;
            valueStarts(depth, c);
            if (depth == 0) {
              complete = true;
              return save(depth, expectValue, i);
            }
          }
          i++;
          while (i < end && CLASS[b[i] & 0xFF] == OTHER) {
            i++;
          }
        }
      }
    }
    return save(depth, expectValue, end);
  }

  private int save(int depth, boolean expectValue, int i) {
    this.depth = depth;
    this.expectValue = expectValue;
    return i;
  }

  /**
   * A string that does not close plainly in this piece begins at {@code from}, its quote just
   * before: set up what it is, then read it piecewise. The state is in the fields.
   */
  private int startString(byte[] b, int from, int end, boolean lineMode) {
    if (expectValue) {
      expectValue = false;
      int n = valueStarts(depth, (byte) '"');
      return startValueString(n != PathTrie.DEAD && (trie.flags(n) & PathTrie.TEXT) != 0 && !text.full(),
          b, from, end, lineMode);
    } else {
      if (depth == 0 || isArray[depth - 1]) {
        failed = true; // a string where a value cannot be
        return from - 1;
      }
      stringIsName = true;
      nameNode = PathTrie.DEAD;
      if (liveNames[depth - 1]) {
        string = NAME;
        nameSpans = false;
        nameTooLong = false;
        nameLength = 0;
      } else {
        string = SKIPPED;
      }
    }
    stringEscaped = false;
    return readString(b, from, end, lineMode);
  }

  /** A value string, its node already known, goes on past this piece or has an escape: read it piecewise. */
  private int startValueString(boolean isText, byte[] b, int from, int end, boolean lineMode) {
    stringIsName = false;
    if (isText) {
      string = TEXT;
      textSpans = false;
      touch(b);
    } else {
      string = SKIPPED;
    }
    stringEscaped = false;
    return readString(b, from, end, lineMode);
  }

  /**
   * The closing quote of the string whose content begins at {@code from}, else -1 if the piece
   * ends first. Only quotes are looked for, eight bytes at a time; a quote after an odd run of
   * backslashes is escaped (a backslash always takes the byte after it, so a run pairs up from
   * its start), and the search goes on after it.
   */
  static int closingQuote(byte[] b, int from, int end) {
    int i = from;
    while (true) {
      int q = quoteOnlyStop(b, i, end);
      if (q == end) {
        return -1;
      }
      int k = q - 1;
      while (k >= from && b[k] == '\\') {
        k--;
      }
      if (((q - 1 - k) & 1) == 0) {
        return q;
      }
      i = q + 1;
    }
  }

  /** The index of the first quote in {@code [i, end)}, else {@code end}. */
  private static int quoteOnlyStop(byte[] b, int i, int end) {
    for (; i + 16 <= end; i += 16) {
      long first = zeros((long) WORDS.get(b, i) ^ QUOTES);
      long second = zeros((long) WORDS.get(b, i + 8) ^ QUOTES);
      if ((first | second) != 0) {
        return first != 0
            ? i + (Long.numberOfTrailingZeros(first) >>> 3)
            : i + 8 + (Long.numberOfTrailingZeros(second) >>> 3);
      }
    }
    if (i + 8 <= end) {
      long hits = zeros((long) WORDS.get(b, i) ^ QUOTES);
      if (hits != 0) {
        return i + (Long.numberOfTrailingZeros(hits) >>> 3);
      }
      i += 8;
    }
    for (; i < end; i++) {
      if (b[i] == '"') {
        return i;
      }
    }
    return end;
  }

  /** The high bit of each zero byte of {@code x}, and maybe of bytes above the lowest one. */
  private static long zeros(long x) {
    return (x - ONES) & ~x & HIGH_BITS;
  }

  /**
   * A value begins at level {@code depth}: its node, by its name or element index; and, at the
   * top, what the usage-chunk test needs to know of it.
   */
  private int valueStarts(int depth, byte first) {
    if (depth == 0) {
      rootSeen = true;
      rootObject = first == '{';
      return PathTrie.ROOT;
    }
    int parent = node[depth - 1];
    if (isArray[depth - 1]) {
      if (parent == PathTrie.DEAD) {
        return PathTrie.DEAD;
      }
      if ((trie.flags(parent) & PathTrie.TOP_CHOICES) != 0) {
        choices = CHOICES_NOT_EMPTY;
      }
      return trie.element(parent, ++index[depth - 1]);
    }
    int n = nameNode;
    if (n != PathTrie.DEAD) {
      nameNode = PathTrie.DEAD;
      if (depth == 1) {
        int flags = trie.flags(n);
        if ((flags & PathTrie.TOP_USAGE) != 0) {
          usageObject = first == '{';
        } else if ((flags & PathTrie.TOP_CHOICES) != 0 && choices != CHOICES_NOT_EMPTY) {
          choices = first == '[' ? CHOICES_EMPTY : CHOICES_NOT_ARRAY; // a choice once shown stays
        }
      }
    }
    return n;
  }

  private void push(int depth, boolean array, int n) {
    if (depth == isArray.length) {
      isArray = Arrays.copyOf(isArray, depth * 2);
      node = Arrays.copyOf(node, depth * 2);
      liveNames = Arrays.copyOf(liveNames, depth * 2);
      index = Arrays.copyOf(index, depth * 2);
    }
    isArray[depth] = array;
    node[depth] = n;
    liveNames[depth] = !array && n != PathTrie.DEAD && trie.hasNames(n);
    index[depth] = -1;
  }

  /**
   * Runs through string bytes from {@code i}: returns the index after the closing quote (the
   * string is then done), or where the piece or line ended inside the string.
   */
  private int readString(byte[] b, int i, int end, boolean lineMode) {
    int from = i;
    if (escaped) {
      if (i == end || (lineMode && isLineEnd(b[i]))) {
        return i;
      }
      escaped = false;
      i++;
    }
    while (true) {
      i = lineMode ? stringStop(b, i, end) : quoteStop(b, i, end);
      if (i == end) {
        keep(b, from, end);
        return end;
      }
      byte c = b[i];
      if (c == '"') {
        stringEnds(b, from, i);
        return i + 1;
      }
      if (c != '\\') { // a control character
        if (lineMode && isLineEnd(c)) { // the line ends inside the string
          keep(b, from, i);
          return i;
        }
        i++; // not valid JSON, but not ours to check in a string nobody reads
        continue;
      }
      stringEscaped = true;
      if (i + 1 == end || (lineMode && isLineEnd(b[i + 1]))) {
        escaped = true; // what it escapes comes with the next piece or line
        keep(b, from, i + 1);
        return i + 1;
      }
      i += 2;
    }
  }

  /**
   * The index of the first quote, backslash or control character in {@code [i, end)}, else
   * {@code end}: eight bytes per step, each tested with the "has a zero byte" word trick.
   * The lowest flagged byte is always a true one (a false flag only follows a true one).
   */
  static int stringStop(byte[] b, int i, int end) {
    // Two words a step: the two tests overlap, and a long string's loop has half the branches.
    for (; i + 16 <= end; i += 16) {
      long first = stops((long) WORDS.get(b, i));
      long second = stops((long) WORDS.get(b, i + 8));
      if ((first | second) != 0) {
        return first != 0
            ? i + (Long.numberOfTrailingZeros(first) >>> 3)
            : i + 8 + (Long.numberOfTrailingZeros(second) >>> 3);
      }
    }
    if (i + 8 <= end) {
      long hits = stops((long) WORDS.get(b, i));
      if (hits != 0) {
        return i + (Long.numberOfTrailingZeros(hits) >>> 3);
      }
      i += 8;
    }
    for (; i < end; i++) {
      byte c = b[i];
      if (c == '"' || c == '\\' || (c >= 0 && c < 0x20)) {
        return i;
      }
    }
    return end;
  }

  /**
   * The index of the first quote or backslash in {@code [i, end)}, else {@code end}: in a JSON
   * body, outside SSE lines, a control character in a string is passed over like any byte (it is
   * not ours to check), so a string's end is found with two tests a word rather than three.
   */
  static int quoteStop(byte[] b, int i, int end) {
    for (; i + 16 <= end; i += 16) {
      long first = quotes((long) WORDS.get(b, i));
      long second = quotes((long) WORDS.get(b, i + 8));
      if ((first | second) != 0) {
        return first != 0
            ? i + (Long.numberOfTrailingZeros(first) >>> 3)
            : i + 8 + (Long.numberOfTrailingZeros(second) >>> 3);
      }
    }
    if (i + 8 <= end) {
      long hits = quotes((long) WORDS.get(b, i));
      if (hits != 0) {
        return i + (Long.numberOfTrailingZeros(hits) >>> 3);
      }
      i += 8;
    }
    for (; i < end; i++) {
      byte c = b[i];
      if (c == '"' || c == '\\') {
        return i;
      }
    }
    return end;
  }

  /** The high bit of each byte of {@code w} that may be a quote or backslash. */
  private static long quotes(long w) {
    long q = w ^ QUOTES;
    long s = w ^ BACKSLASHES;
    return ((q - ONES) & ~q | (s - ONES) & ~s) & HIGH_BITS;
  }

  /**
   * The index of the first quote, backslash, control character or non-ASCII byte in {@code [i,
   * end)}, else {@code end}: what a strict reader ({@link UsageObjectReader}) must look at in a
   * string, eight bytes per step.
   */
  static int plainStop(byte[] b, int i, int end) {
    for (; i + 8 <= end; i += 8) {
      long w = (long) WORDS.get(b, i);
      long hits = stops(w) | w & HIGH_BITS;
      if (hits != 0) {
        return i + (Long.numberOfTrailingZeros(hits) >>> 3);
      }
    }
    for (; i < end; i++) {
      byte c = b[i];
      if (c == '"' || c == '\\' || c < 0x20) { // a byte past ASCII is negative
        return i;
      }
    }
    return end;
  }

  /**
   * The index of the first backslash or non-ASCII byte in {@code [i, end)}, else {@code end}: where
   * a run of completion text that decodes to itself ends ({@link JsonStringDecoder}).
   */
  static int asciiStop(byte[] b, int i, int end) {
    for (; i + 8 <= end; i += 8) {
      long w = (long) WORDS.get(b, i);
      long s = w ^ BACKSLASHES;
      long hits = ((s - ONES) & ~s | w) & HIGH_BITS;
      if (hits != 0) {
        return i + (Long.numberOfTrailingZeros(hits) >>> 3);
      }
    }
    for (; i < end; i++) {
      byte c = b[i];
      if (c < 0 || c == '\\') {
        return i;
      }
    }
    return end;
  }

  /** The high bit of each byte of {@code w} that may be a quote, backslash or control character. */
  private static long stops(long w) {
    long q = w ^ QUOTES;
    long s = w ^ BACKSLASHES;
    return ((q - ONES) & ~q | (s - ONES) & ~s | (w - SPACES) & ~w) & HIGH_BITS;
  }

  private static boolean isLineEnd(byte c) {
    return c == '\n' || c == '\r';
  }

  /** The string goes on past {@code to}: keeps what a name or the text needs of {@code [from, to)}. */
  private void keep(byte[] b, int from, int to) {
    if (string == NAME) {
      appendName(b, from, to);
      nameSpans = true;
    } else if (string == TEXT) {
      if (!textSpans) {
        decoder.reset();
        textSpans = true;
      }
      if (!decoder.append(b, from, to - from)) {
        failed = true;
      } else if (text.full()) {
        string = SKIPPED; // nothing more is kept; the rest of the string is only run through
      }
    }
  }

  private void appendName(byte[] b, int from, int to) {
    int n = to - from;
    if (nameTooLong || nameLength + n > trie.longestName() * 6) { // 6: a name written all in escapes
      nameTooLong = true;
      return;
    }
    if (nameLength + n > name.length) {
      name = Arrays.copyOf(name, Math.max(nameLength + n, name.length * 2));
    }
    System.arraycopy(b, from, name, nameLength, n);
    nameLength += n;
  }

  /** The string closes at {@code close}; its bytes in this piece began at {@code from}. */
  private void stringEnds(byte[] b, int from, int close) {
    int kind = string;
    string = NO_STRING;
    if (kind == NAME) {
      int parent = node[depth - 1];
      if (!nameSpans) {
        nameNode = match(parent, b, from, close - from);
      } else {
        appendName(b, from, close);
        nameNode = nameTooLong ? PathTrie.DEAD : match(parent, name, 0, nameLength);
      }
    } else if (kind == TEXT) {
      boolean decoded = textSpans
          ? decoder.append(b, from, close - from) && decoder.finish()
          : decoder.decodeWhole(b, from, close - from); // the usual case: nothing carried
      if (!decoded) {
        failed = true;
      }
    }
    if (!stringIsName && depth == 0) {
      complete = true; // a string root: a whole document without usage
    }
  }

  private int match(int parent, byte[] raw, int from, int length) {
    if (!stringEscaped) {
      return trie.property(parent, raw, from, length);
    }
    // An escaped name, such as "\u0075sage": rare, so unescaped into a fresh array.
    byte[] plain = new byte[length * 3];
    int n = unescape(raw, from, length, plain);
    return n < 0 ? PathTrie.DEAD : trie.property(parent, plain, 0, n);
  }

  /**
   * The UTF-8 of a JSON string's content {@code raw} (escapes decoded) into {@code out}: its
   * length, or -1 if an escape is invalid. A UTF-8 character is at most 3 bytes per escape's 6.
   */
  static int unescape(byte[] raw, int from, int length, byte[] out) {
    int n = 0;
    int end = from + length;
    int high = -1; // a high surrogate waiting for its low one
    for (int i = from; i < end; i++) {
      byte c = raw[i];
      if (c != '\\') {
        out[n++] = c;
        continue;
      }
      if (i + 1 >= end) {
        return -1;
      }
      byte e = raw[++i];
      int cp;
      switch (e) {
        case '"', '\\', '/' -> cp = e;
        case 'b' -> cp = '\b';
        case 'f' -> cp = '\f';
        case 'n' -> cp = '\n';
        case 'r' -> cp = '\r';
        case 't' -> cp = '\t';
        case 'u' -> {
          if (i + 4 >= end) {
            return -1;
          }
          cp = 0;
          for (int k = i + 1; k <= i + 4; k++) {
            int d = Character.digit(raw[k], 16);
            if (d < 0) {
              return -1;
            }
            cp = cp << 4 | d;
          }
          i += 4;
        }
        default -> {
          return -1;
        }
      }
      if (Character.isHighSurrogate((char) cp) && e == 'u') {
        high = cp;
        continue;
      }
      if (high >= 0 && Character.isLowSurrogate((char) cp)) {
        cp = Character.toCodePoint((char) high, (char) cp);
      }
      high = -1;
      n = utf8(cp, out, n);
    }
    return n;
  }

  private static int utf8(int cp, byte[] out, int n) {
    if (cp < 0x80) {
      out[n++] = (byte) cp;
    } else if (cp < 0x800) {
      out[n++] = (byte) (0xC0 | cp >> 6);
      out[n++] = (byte) (0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out[n++] = (byte) (0xE0 | cp >> 12);
      out[n++] = (byte) (0x80 | (cp >> 6 & 0x3F));
      out[n++] = (byte) (0x80 | (cp & 0x3F));
    } else {
      out[n++] = (byte) (0xF0 | cp >> 18);
      out[n++] = (byte) (0x80 | (cp >> 12 & 0x3F));
      out[n++] = (byte) (0x80 | (cp >> 6 & 0x3F));
      out[n++] = (byte) (0x80 | (cp & 0x3F));
    }
    return n;
  }

  private void startUsage() {
    if (reportCount == reports.length) {
      reports = Arrays.copyOf(reports, reportCount * 2);
      for (int k = reportCount; k < reports.length; k++) {
        reports[k] = new UsageReport();
      }
    }
    usageReader.start(reports[reportCount], maxPerField, MAX_DEPTH - depth);
    inUsage = true;
    usageBytes = 0;
  }

  private int readUsage(byte[] b, int i, int end, boolean lineMode) {
    int from = i;
    i = usageReader.feed(b, i, end, lineMode);
    usageBytes += i - from;
    if (usageReader.failed() || usageBytes > MAX_USAGE_BYTES) {
      failed = true;
    } else if (usageReader.done()) {
      inUsage = false;
      reportCount++;
      expectValue = false;
    }
    return i;
  }
}
