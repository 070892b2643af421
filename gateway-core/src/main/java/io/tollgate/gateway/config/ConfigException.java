package io.tollgate.gateway.config;

/** A configuration value that stops start-up; its message names the key and says what is wrong. */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String key;

  public ConfigException(String key, String problem) {
    super(key + ": " + problem);
    this.key = key;
  }

  /** The dotted path of the offending key, e.g. {@code server.port}. */
  public String key() {
    return key;
  }
}
