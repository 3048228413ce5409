-- Hash indexes for the look-ups by id that every compiled GraphQL statement makes per row: a
-- claim's speakers, a speaker's or a publisher's entity, an appearance's source.
-- An equality probe of a hash index reads one bucket page and compares one key; the b-tree beside
-- it (kept: it enforces the keys and serves ranges and orderings) descends three levels with a
-- binary search in each. Measured on the 50-claim feed at 1,000,000 claims (docs/graphql.md,
-- Performance): b-tree descents were the largest single cost in PostgreSQL (`_bt_compare`, 10 %),
-- and these indexes took about a tenth off the statement's CPU. (One on claim (id), for a page's
-- claims, measured within the noise, 0–3 %: not worth its cost on every write.)
CREATE INDEX entity_id_hash ON entity USING hash (id);
CREATE INDEX source_id_hash ON source USING hash (id);
CREATE INDEX claim_speaker_claim_hash ON claim_speaker USING hash (claim_id);
