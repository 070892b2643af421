package io.tollgate.gateway.mock;

/** The API a request path speaks at the mock upstream. */
enum MockApi {
  CHAT("/v1/chat/completions"),
  COMPLETIONS("/v1/completions"),
  EMBEDDINGS("/v1/embeddings"),
  RESPONSES("/v1/responses"),
  MODELS("/v1/models"),
  MESSAGES("/v1/messages"),
  /** The marketplace's generic Agents API, on any path the mock was told about. */
  CUSTOM(null);

  final String path;

  MockApi(String path) {
    this.path = path;
  }

  /** The fixed API at {@code path}, or {@link #CUSTOM} if the path is none of them. */
  static MockApi ofPath(String path) {
    for (MockApi api : values()) {
      if (path.equals(api.path)) {
        return api;
      }
    }
    return CUSTOM;
  }

  boolean anthropic() {
    return this == MESSAGES;
  }
}
