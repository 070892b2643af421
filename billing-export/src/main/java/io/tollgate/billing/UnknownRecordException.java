package io.tollgate.billing;

/**
 * A page was asked for after a record id that does not exist (or that the caller may not see):
 * the pull API answers 400 naming {@code after}.
 */
public final class UnknownRecordException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final String recordId;

  public UnknownRecordException(String recordId) {
    super("no record with id " + recordId);
    this.recordId = recordId;
  }

  public String recordId() {
    return recordId;
  }
}
