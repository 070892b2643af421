package io.tollgate.gateway.proxy;

import io.netty.handler.codec.http.HttpMethod;
import io.tollgate.gateway.catalog.Product;
import io.tollgate.gateway.catalog.Protocol;
import java.util.Set;

/** What a buyer's request line asks for, given the protocol of the key's product. */
enum Route {
  /** {@code GET /v1/models}: answered from the subscription. */
  MODELS,
  /** {@code GET /v1/subscription}: answered from the subscription and its usage. */
  SUBSCRIPTION,
  /** A model API call: a JSON body with a {@code model} is required. */
  FORWARD_MODEL_CALL,
  /** A {@code custom} protocol call: GET or POST, any body. */
  FORWARD_CUSTOM,
  NOT_FOUND,
  METHOD_NOT_ALLOWED;

  private static final Set<String> OPENAI_PATHS =
      Set.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses");
  private static final Set<String> ANTHROPIC_PATHS = Set.of("/v1/messages");

  static Route match(Product product, HttpMethod method, String path) {
    if ("/v1/models".equals(path)) {
      return method == HttpMethod.GET ? MODELS : METHOD_NOT_ALLOWED;
    }
    if ("/v1/subscription".equals(path)) {
      return method == HttpMethod.GET ? SUBSCRIPTION : METHOD_NOT_ALLOWED;
    }
    Protocol protocol = product.protocol();
    if (protocol == Protocol.CUSTOM) {
      if (!product.paths().contains(path)) {
        return NOT_FOUND;
      }
      return method == HttpMethod.GET || method == HttpMethod.POST ? FORWARD_CUSTOM : METHOD_NOT_ALLOWED;
    }
    Set<String> paths = protocol == Protocol.OPENAI ? OPENAI_PATHS : ANTHROPIC_PATHS;
    if (!paths.contains(path)) {
      return NOT_FOUND;
    }
    return method == HttpMethod.POST ? FORWARD_MODEL_CALL : METHOD_NOT_ALLOWED;
  }

  /** The path of a request URI, without its query. */
  static String pathOf(String uri) {
    int q = uri.indexOf('?');
    return q < 0 ? uri : uri.substring(0, q);
  }
}
