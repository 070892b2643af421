package io.tollgate.metering.journal;

/**
 * An event could not be written to the journal (disk full, I/O error). The event is not counted;
 * the gateway must fail the call rather than deliver its last byte, since a served call must be
 * journaled first.
 */
public class JournalException extends RuntimeException {

  public JournalException(String message, Throwable cause) {
    super(message, cause);
  }
}
