package io.tollgate.metering.usage;

/** The API family whose usage shape an upstream speaks. */
public enum Dialect {
  /** OpenAI chat/completions/embeddings/responses; Azure OpenAI and compatible providers. */
  OPENAI,
  /** Anthropic messages. */
  ANTHROPIC,
  /** The marketplace's generic Agents API: a top-level {@code usage} object. */
  CUSTOM
}
