-- PER_TOKEN SKUs may price input tokens read from the upstream's prompt cache apart from other
-- input tokens. NULL (every row before this migration) means the input price.
ALTER TABLE sku_prices ADD COLUMN cached_input_price_per_million NUMERIC(38, 18);
