package io.tollgate.gateway.auth;

import io.lettuce.core.RedisClient;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Catalog change notices over Redis pub/sub: every instance subscribes to one channel and drops
 * its snapshot cache on each message. A lost message (Redis down at the moment of a change) is
 * bounded by the cache's max age; on reconnect Lettuce resubscribes and this class invalidates
 * once more, in case a change was missed while disconnected.
 */
public final class RedisCatalogChanges implements CatalogChanges {

  private static final Logger log = LoggerFactory.getLogger(RedisCatalogChanges.class);

  private final SubscriptionCache cache;
  private final String channel;
  private final StatefulRedisPubSubConnection<String, String> sub;
  private final StatefulRedisConnection<String, String> pub;

  /**
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
          cache.invalidateAll();
        }
      }

      @Override
      public void subscribed(String ch, long count) {
        // (Re)subscribed: changes published while we were away are unknown, so start clean.
        cache.invalidateAll();
      }
    });
    sub.sync().subscribe(channel);
    sub.setTimeout(Duration.ofSeconds(5));
  }

  @Override
  public void publish(CatalogChange change) {
    cache.invalidateAll();
    pub.async().publish(channel, "changed").exceptionally(e -> {
      log.warn("could not publish a catalog change on Redis channel {}: {}; other instances catch up within"
          + " the cache's max age", channel, e.toString());
      return 0L;
    });
  }

  @Override
  public void close() {
    sub.close();
    pub.close();
  }
}
