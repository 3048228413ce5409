-- Provenance and review of claims that a program extracted from text (extract/, `claims extract`,
-- `POST /v1/extract`): which extractor and version wrote the claim, how sure it was, and where a
-- person with the write scope is in reviewing it. Claims written by hand or imported from curated
-- data are `curated`; extracted ones start `unreviewed` until confirmed, edited or rejected.
ALTER TABLE claim
    ADD COLUMN review_state text NOT NULL DEFAULT 'curated'
        CHECK (review_state IN ('curated', 'unreviewed', 'confirmed', 'edited', 'rejected')),
    ADD COLUMN extractor text CHECK (length(extractor) BETWEEN 1 AND 200),
    ADD COLUMN extractor_version text CHECK (length(extractor_version) BETWEEN 1 AND 100),
    ADD COLUMN confidence real CHECK (confidence BETWEEN 0 AND 1),
    ADD CONSTRAINT claim_extracted_check CHECK ((extractor IS NULL) = (review_state = 'curated'));
-- The review queue: few rows once reviewed, so a partial index keeps it small.
CREATE INDEX claim_unreviewed_idx ON claim (id DESC) WHERE review_state = 'unreviewed' AND deleted_at IS NULL;
