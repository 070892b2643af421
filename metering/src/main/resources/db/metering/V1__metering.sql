-- The metering tables (MeterSchema), on H2 and PostgreSQL alike, under the table prefix
-- ${table_prefix} (default tg_). Each prefix has its own history table, so this runs once per prefix.
--
-- IF NOT EXISTS everywhere: a database whose tables were made by the hand-written DDL that came
-- before Flyway (JdbcMeterStore.migrate, JdbcQuotaPool.migrate) gets a baseline at version 0 and
-- then this script, which keeps what exists and adds what that version lacked. The statements are
-- that DDL, unchanged. Migrations after V1 need no IF NOT EXISTS.

-- JdbcMeterStore: usage per (subscription, SKU, minute).
CREATE TABLE IF NOT EXISTS ${table_prefix}usage_minute (subscription_id VARCHAR(128) NOT NULL,
  sku_id VARCHAR(128) NOT NULL, minute_start BIGINT NOT NULL, product_id VARCHAR(128),
  merchant_id VARCHAR(128), buyer_id VARCHAR(128), test BOOLEAN NOT NULL, calls BIGINT NOT NULL,
  input_tokens BIGINT NOT NULL, cached_input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
  estimated_tokens BIGINT NOT NULL, PRIMARY KEY (subscription_id, sku_id, minute_start));
CREATE INDEX IF NOT EXISTS ${table_prefix}usage_minute_sku ON ${table_prefix}usage_minute (sku_id, minute_start);
CREATE INDEX IF NOT EXISTS ${table_prefix}usage_minute_product ON ${table_prefix}usage_minute (product_id, minute_start);
CREATE INDEX IF NOT EXISTS ${table_prefix}usage_minute_merchant ON ${table_prefix}usage_minute (merchant_id, minute_start);

-- JdbcMeterStore: the ids of applied batches (exactly-once).
CREATE TABLE IF NOT EXISTS ${table_prefix}applied_batch (batch_id VARCHAR(200) NOT NULL PRIMARY KEY,
  applied_at BIGINT NOT NULL);

-- JdbcMeterStore as an ExportSource: export marks and the sequence of their versions.
CREATE TABLE IF NOT EXISTS ${table_prefix}touched (window_start BIGINT NOT NULL,
  subscription_id VARCHAR(128) NOT NULL, sku_id VARCHAR(128) NOT NULL, product_id VARCHAR(128),
  merchant_id VARCHAR(128), buyer_id VARCHAR(128), test BOOLEAN NOT NULL, version BIGINT NOT NULL,
  PRIMARY KEY (window_start, subscription_id, sku_id));
CREATE SEQUENCE IF NOT EXISTS ${table_prefix}touched_version;

-- JdbcQuotaPool: what is left of a subscription's quota in a period.
CREATE TABLE IF NOT EXISTS ${table_prefix}quota_pool (subscription_id VARCHAR(128) NOT NULL,
  period_key VARCHAR(64) NOT NULL, remaining BIGINT NOT NULL,
  PRIMARY KEY (subscription_id, period_key));
