-- Each long text a GraphQL response shows — a claim's content, an entity's name, a source's title
-- and URL, an appearance's quote — kept beside it already written as a JSON string (quoted and
-- escaped: `"Merz said \"no\""`). The compiled statements (db/compile.py) concatenate the response
-- JSON as text and used to escape these on every read with `to_json(…)::text`, which looks up the
-- type's output function for every value and copies it three times; for the 50-claim feed that was
-- about 550 calls and 13–16 % of PostgreSQL's CPU per statement (docs/graphql.md, Performance).
-- Stored generated columns escape once, on write, and can never disagree with their source.
-- `to_json` is STABLE only because of types whose text depends on settings (timestamps); for text
-- its result depends on nothing but the input, hence the IMMUTABLE wrapper a generated column needs.
CREATE FUNCTION json_text(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT pg_catalog.to_json(value)::text $$;

ALTER TABLE claim ADD COLUMN content_json text GENERATED ALWAYS AS (json_text(content)) STORED;
ALTER TABLE entity ADD COLUMN name_json text GENERATED ALWAYS AS (json_text(name)) STORED;
ALTER TABLE source
    ADD COLUMN title_json text GENERATED ALWAYS AS (json_text(title)) STORED,
    ADD COLUMN url_json text GENERATED ALWAYS AS (json_text(url)) STORED;
ALTER TABLE appearance ADD COLUMN quote_json text GENERATED ALWAYS AS (json_text(quote)) STORED;
