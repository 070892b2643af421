package io.tollgate.gateway;

/** Start-up cannot go on; the message is the one line the operator reads. */
public final class StartupException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public StartupException(String message, Throwable cause) {
    super(message, cause);
  }
}
