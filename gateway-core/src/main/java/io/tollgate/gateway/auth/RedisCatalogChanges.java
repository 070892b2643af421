package io.tollgate.gateway.auth;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.time.Duration;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Catalog change notices over Redis pub/sub: every instance subscribes to one channel, and a
 * change published by one drops, on every other, only the snapshots of the subscriptions and
 * products it names ({@link SubscriptionCache#invalidate}). A notice is a small JSON object,
 * {@code {"from":"<instance>","subscriptionIds":[...],"productIds":[...]}}; an instance skips its
 * own, having applied them before publishing. A notice longer than {@value #MAX_NOTICE_CHARS}
 * characters, not of this shape, or naming anything else, is logged, counted ({@link
 * #rejectedNotices()}) and taken as "everything changed": dropping too much costs catalog reads,
 * dropping too little serves a suspended key. So instances of an older version, which publish
 * {@code changed}, still invalidate newer ones, and a change too large to name is sent as {@code
 * {"from":"<instance>","all":true}}.
 *
 * <p>A notice lost while Redis is unreachable is bounded by the cache's max age. When Lettuce
 * resubscribes after an outage, this class refreshes every cached key in the background ({@link
 * SubscriptionCache#refreshAll()}) rather than emptying the cache: if the catalog database is
 * down too, keys in use go on being served from their snapshots instead of failing with 503.
 */
public final class RedisCatalogChanges implements CatalogChanges {

  private static final Logger log = LoggerFactory.getLogger(RedisCatalogChanges.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The longest notice read; a change naming 200 ids fits in a tenth of it. */
  static final int MAX_NOTICE_CHARS = 64 * 1024;

  private static final int MAX_ID_CHARS = 200;

  private final SubscriptionCache cache;
  private final String channel;
  private final String instance = UUID.randomUUID().toString();
  private final StatefulRedisPubSubConnection<String, String> sub;
  private final StatefulRedisConnection<String, String> pub;
  private final LongAdder rejected = new LongAdder();
  private final AtomicBoolean subscribedOnce = new AtomicBoolean();

  /**
   * Subscribes before returning.
   *
   * @param channel the pub/sub channel; instances sharing a catalog must share it
   */
  public RedisCatalogChanges(RedisClient client, String channel, SubscriptionCache cache) {
    this.cache = cache;
    this.channel = channel;
    this.sub = client.connectPubSub();
    this.pub = client.connect();
    sub.addListener(new RedisPubSubAdapter<>() {
      @Override
      public void message(String ch, String message) {
        if (channel.equals(ch)) {
          received(message);
        }
      }

      @Override
      public void subscribed(String ch, long count) {
        if (channel.equals(ch) && subscribedOnce.getAndSet(true)) {
          // Resubscribed after a disconnection: notices published meanwhile were lost. Each
          // refresh reads the catalog after this point, and later notices arrive again.
          log.info("resubscribed to Redis channel {}: refreshing {} cached subscription snapshots in the background",
              channel, cache.size());
          cache.refreshAll();
        }
      }
    });
    sub.sync().subscribe(channel);
    sub.setTimeout(Duration.ofSeconds(5));
  }

  @Override
  public void publish(CatalogChange change) {
    if (change.isEmpty()) {
      return;
    }
    cache.invalidate(change);
    String notice = encode(instance, change);
    if (notice.length() > MAX_NOTICE_CHARS) {
      log.warn("a catalog change naming {} subscriptions and {} products is too large to send; other instances"
          + " drop their whole cache", change.subscriptionIds().size(), change.productIds().size());
      notice = JSON.createObjectNode().put("from", instance).put("all", true).toString();
    }
    pub.async().publish(channel, notice).exceptionally(e -> {
      log.warn("could not publish a catalog change on Redis channel {}: {}; other instances catch up within"
          + " the cache's max age", channel, e.toString());
      return 0L;
    });
  }

  /** Notices from the channel that were malformed or too long, each taken as "everything changed". */
  public long rejectedNotices() {
    return rejected.sum();
  }

  @Override
  public void close() {
    sub.close();
    pub.close();
  }

  private void received(String message) {
    JsonNode notice = null;
    String problem;
    if (message.length() > MAX_NOTICE_CHARS) {
      problem = "longer than " + MAX_NOTICE_CHARS + " characters";
    } else {
      try {
        notice = JSON.readTree(message);
        problem = null;
      } catch (JsonProcessingException e) {
        problem = "not JSON";
      }
    }
    if (notice != null) {
      if (!notice.isObject()) {
        problem = "not a JSON object";
      } else if (instance.equals(notice.path("from").asText(null))) {
        return; // ours, applied before it was published
      } else if (notice.path("all").isBoolean() && notice.get("all").booleanValue() && notice.size() == 2 && notice.has("from")) {
        cache.invalidateAll();
        return;
      } else {
        try {
          cache.invalidate(decode(notice));
          return;
        } catch (IllegalArgumentException e) {
          problem = e.getMessage();
        }
      }
    }
    rejected.increment();
    log.warn("malformed catalog change notice on Redis channel {} ({}): dropping every cached subscription snapshot",
        channel, problem);
    cache.invalidateAll();
  }

  static String encode(String from, CatalogChange change) {
    ObjectNode o = JSON.createObjectNode().put("from", from);
    change.subscriptionIds().forEach(o.putArray("subscriptionIds")::add);
    change.productIds().forEach(o.putArray("productIds")::add);
    return o.toString();
  }

  /** A notice's change; only {@code from}, {@code subscriptionIds} and {@code productIds} are allowed. */
  static CatalogChange decode(JsonNode notice) {
    for (Iterator<String> names = notice.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!name.equals("from") && !name.equals("subscriptionIds") && !name.equals("productIds")) {
        throw new IllegalArgumentException("unknown field " + name);
      }
    }
    if (!notice.path("from").isTextual()) {
      throw new IllegalArgumentException("from must be a string");
    }
    return new CatalogChange(ids(notice, "subscriptionIds"), ids(notice, "productIds"));
  }

  private static Set<String> ids(JsonNode notice, String field) {
    JsonNode array = notice.get(field);
    if (array == null || !array.isArray()) {
      throw new IllegalArgumentException(field + " must be an array");
    }
    Set<String> ids = new HashSet<>();
    for (JsonNode id : array) {
      if (!id.isTextual() || id.asText().isEmpty() || id.asText().length() > MAX_ID_CHARS) {
        throw new IllegalArgumentException(field + " must hold ids of 1 to " + MAX_ID_CHARS + " characters");
      }
      ids.add(id.asText());
    }
    return ids;
  }
}
