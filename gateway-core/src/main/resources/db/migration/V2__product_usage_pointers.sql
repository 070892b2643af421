-- Extra JSON pointers where a product's upstream reports usage (a JSON array of strings).
ALTER TABLE products ADD COLUMN usage_pointers TEXT;
