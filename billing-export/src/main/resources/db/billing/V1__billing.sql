-- The billing ledger (RecordLedger), on the catalog database; the same SQL on PostgreSQL and H2.
-- ${exact_decimal} is NUMERIC on PostgreSQL and DECFLOAT on H2: both keep every digit of an amount.
-- (H2's NUMERIC without a precision has scale 0 outside PostgreSQL mode and would round.)

-- Every exported record. Rows are inserted, never updated or deleted.
CREATE TABLE usage_records (
  id                  VARCHAR(40)  NOT NULL PRIMARY KEY,
  -- Export order: numbered from billing_counter by writers that hold its row lock until they
  -- commit, so records commit in seq order and a reader paging by seq never skips one.
  seq                 BIGINT       NOT NULL UNIQUE,
  -- The first seq of the transaction that wrote the record: one JSONL file per (commit, window).
  commit_seq          BIGINT       NOT NULL,
  subscription_id     VARCHAR(128) NOT NULL,
  buyer_id            VARCHAR(128),
  merchant_id         VARCHAR(128),
  product_id          VARCHAR(128),
  sku_id              VARCHAR(128) NOT NULL,
  window_start        TIMESTAMP WITH TIME ZONE NOT NULL,
  window_end          TIMESTAMP WITH TIME ZONE NOT NULL,
  calls               BIGINT       NOT NULL,
  input_tokens        BIGINT       NOT NULL,
  cached_input_tokens BIGINT       NOT NULL,
  output_tokens       BIGINT       NOT NULL,
  estimated_tokens    BIGINT       NOT NULL,
  billing_mode        VARCHAR(16)  NOT NULL,
  amount              ${exact_decimal} NOT NULL,
  currency            VARCHAR(16)  NOT NULL,
  test                BOOLEAN      NOT NULL,
  kind                VARCHAR(16)  NOT NULL,
  revision            INTEGER      NOT NULL,
  exported_at         TIMESTAMP WITH TIME ZONE NOT NULL
);
-- commitWindow sums a window's records per (subscription, SKU); also the pull API's from/to.
CREATE INDEX usage_records_window ON usage_records (window_start, subscription_id, sku_id);
-- The pull API's filters, each in export order.
CREATE INDEX usage_records_merchant ON usage_records (merchant_id, seq);
CREATE INDEX usage_records_subscription ON usage_records (subscription_id, seq);
CREATE INDEX usage_records_product ON usage_records (product_id, seq);
CREATE INDEX usage_records_kind ON usage_records (kind, seq);

-- The lock every record writer takes (SELECT ... FOR UPDATE) and the next seq.
CREATE TABLE billing_counter (
  name     VARCHAR(32) NOT NULL PRIMARY KEY,
  next_seq BIGINT      NOT NULL
);
INSERT INTO billing_counter (name, next_seq) VALUES ('usage_records', 1);

-- Purchases and renewals queued in the catalog's transaction, until they are recorded.
CREATE TABLE billing_purchase_outbox (
  record_id       VARCHAR(40)  NOT NULL PRIMARY KEY,
  subscription_id VARCHAR(128) NOT NULL,
  sku_id          VARCHAR(128) NOT NULL,
  product_id      VARCHAR(128),
  merchant_id     VARCHAR(128),
  buyer_id        VARCHAR(128),
  test            BOOLEAN      NOT NULL,
  period_start    TIMESTAMP WITH TIME ZONE NOT NULL,
  quantity        BIGINT       NOT NULL
);

-- How far each follower of the ledger (a JSONL directory) has written: the last seq it holds.
CREATE TABLE billing_follower (
  name VARCHAR(128) NOT NULL PRIMARY KEY,
  seq  BIGINT       NOT NULL
);

-- JdbcExportLease: who runs the exporter, until when (epoch millis of the holder's clock).
CREATE TABLE billing_export_lease (
  name       VARCHAR(64)  NOT NULL PRIMARY KEY,
  holder     VARCHAR(128),
  expires_at BIGINT       NOT NULL
);
