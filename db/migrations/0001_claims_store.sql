-- The normalised claims store. Core PostgreSQL only (no pg_trgm, no unaccent): names are
-- normalised for matching by the writer (db/normalize.py) into *_norm columns, and name search
-- is core full-text search with prefix matching over those columns.

CREATE TABLE entity (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('person', 'organization', 'group', 'place', 'event', 'other')),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 500),
    name_norm   text NOT NULL CHECK (name_norm <> ''),
    description text CHECK (length(description) <= 5000),
    merged_into bigint REFERENCES entity (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (merged_into IS NULL OR merged_into <> id)
);

-- Every entity's canonical name is also one of its aliases, so look-up and search read one table.
CREATE TABLE entity_alias (
    entity_id  bigint NOT NULL REFERENCES entity (id) ON DELETE CASCADE,
    alias      text NOT NULL CHECK (length(btrim(alias)) BETWEEN 1 AND 500),
    norm       text NOT NULL CHECK (norm <> ''),
    search     tsvector GENERATED ALWAYS AS (to_tsvector('simple', norm)) STORED,
    PRIMARY KEY (entity_id, norm)
);
CREATE INDEX entity_alias_norm_idx ON entity_alias (norm);
CREATE INDEX entity_alias_search_idx ON entity_alias USING gin (search);

CREATE TABLE entity_external_id (
    entity_id bigint NOT NULL REFERENCES entity (id) ON DELETE CASCADE,
    scheme    text NOT NULL CHECK (scheme ~ '^[a-z][a-z0-9_]{0,31}$'),
    value     text NOT NULL CHECK (length(value) BETWEEN 1 AND 200),
    PRIMARY KEY (scheme, value),
    CHECK (scheme <> 'wikidata' OR value ~ '^Q[1-9][0-9]*$')
);
CREATE INDEX entity_external_id_entity_idx ON entity_external_id (entity_id);

CREATE TABLE entity_role (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_id    bigint NOT NULL REFERENCES entity (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 300),
    organization_id bigint REFERENCES entity (id),
    start_date   date,
    end_date     date,
    CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date)
);
CREATE UNIQUE INDEX entity_role_identity_idx
    ON entity_role (entity_id, lower(title), coalesce(start_date, '-infinity'::date));

CREATE TABLE topic (
    id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200)
);

CREATE TABLE source (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- identity: 'url:<normalised url>' when the source has a URL, else a digest of kind, title,
    -- publisher and date (db/normalize.py: source_key); what makes re-imports idempotent
    key          text NOT NULL UNIQUE,
    kind         text NOT NULL CHECK (kind IN ('news_article', 'statement', 'transcript', 'social_post',
                                               'press_release', 'fact_check', 'other')),
    title        text CHECK (length(title) <= 1000),
    url          text UNIQUE CHECK (url ~ '^https?://' AND length(url) <= 2000),
    publisher_id bigint REFERENCES entity (id),
    published_at timestamptz,
    language     text CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    text         text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX source_publisher_idx ON source (publisher_id, published_at DESC, id DESC);
CREATE INDEX source_published_idx ON source (published_at DESC, id DESC);

CREATE TABLE source_author (
    source_id bigint NOT NULL REFERENCES source (id) ON DELETE CASCADE,
    entity_id bigint NOT NULL REFERENCES entity (id),
    position  smallint NOT NULL DEFAULT 0 CHECK (position >= 0),
    PRIMARY KEY (source_id, entity_id)
);
CREATE INDEX source_author_entity_idx ON source_author (entity_id);

CREATE TABLE claim (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- identity: digest of the sorted speaker ids and the normalised content (db/normalize.py)
    fingerprint       text NOT NULL UNIQUE,
    content           text NOT NULL CHECK (length(btrim(content)) BETWEEN 1 AND 20000),
    kind              text NOT NULL CHECK (kind IN ('direct_quote', 'partial_quote', 'paraphrase')),
    language          text CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    said_at           timestamptz,
    said_at_precision text NOT NULL DEFAULT 'unknown'
                      CHECK (said_at_precision IN ('instant', 'day', 'month', 'year', 'unknown')),
    location_id       bigint REFERENCES entity (id),
    -- denormalised from the appearances (kept by the writer) so -reported_at sorts on an index
    first_reported_at timestamptz,
    version           integer NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    -- keyset order: unknown dates sort after every known one (first in ascending order)
    said_key          timestamptz GENERATED ALWAYS AS (coalesce(said_at, '-infinity'::timestamptz)) STORED,
    reported_key      timestamptz GENERATED ALWAYS AS (coalesce(first_reported_at, '-infinity'::timestamptz)) STORED,
    search            tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    CHECK ((said_at IS NULL) = (said_at_precision = 'unknown'))
);
CREATE INDEX claim_said_idx ON claim (said_key DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX claim_reported_idx ON claim (reported_key DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX claim_search_idx ON claim USING gin (search);
CREATE INDEX claim_location_idx ON claim (location_id) WHERE location_id IS NOT NULL;

CREATE TABLE claim_speaker (
    claim_id  bigint NOT NULL REFERENCES claim (id) ON DELETE CASCADE,
    entity_id bigint NOT NULL REFERENCES entity (id),
    role      text NOT NULL DEFAULT 'speaker' CHECK (role IN ('speaker', 'co_signatory', 'on_behalf_of')),
    position  smallint NOT NULL DEFAULT 0 CHECK (position >= 0),
    -- copy of claim.said_key (kept by trigger) so "claims by speaker, newest first" is one index scan
    said_key  timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (claim_id, entity_id)
);
CREATE INDEX claim_speaker_entity_idx ON claim_speaker (entity_id, said_key DESC, claim_id DESC);

CREATE TABLE appearance (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    claim_id        bigint NOT NULL REFERENCES claim (id) ON DELETE CASCADE,
    source_id       bigint NOT NULL REFERENCES source (id) ON DELETE CASCADE,
    quote           text NOT NULL CHECK (length(quote) BETWEEN 1 AND 20000),
    span_start      integer CHECK (span_start >= 0),
    span_end        integer,
    cited_source_id bigint REFERENCES source (id),
    UNIQUE (claim_id, source_id),
    CHECK ((span_start IS NULL) = (span_end IS NULL)),
    CHECK (span_end IS NULL OR span_end > span_start),
    CHECK (cited_source_id IS NULL OR cited_source_id <> source_id)
);
CREATE INDEX appearance_source_idx ON appearance (source_id, claim_id);
CREATE INDEX appearance_cited_idx ON appearance (cited_source_id) WHERE cited_source_id IS NOT NULL;

CREATE TABLE mention (
    claim_id  bigint NOT NULL REFERENCES claim (id) ON DELETE CASCADE,
    entity_id bigint NOT NULL REFERENCES entity (id),
    said_key  timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (claim_id, entity_id)
);
CREATE INDEX mention_entity_idx ON mention (entity_id, said_key DESC, claim_id DESC);

CREATE TABLE claim_topic (
    claim_id bigint NOT NULL REFERENCES claim (id) ON DELETE CASCADE,
    topic_id bigint NOT NULL REFERENCES topic (id),
    said_key timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (claim_id, topic_id)
);
CREATE INDEX claim_topic_topic_idx ON claim_topic (topic_id, said_key DESC, claim_id DESC);

CREATE TABLE claim_relation (
    claim_id         bigint NOT NULL REFERENCES claim (id) ON DELETE CASCADE,
    related_claim_id bigint NOT NULL REFERENCES claim (id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('repeats', 'supports', 'contradicts', 'responds_to')),
    PRIMARY KEY (claim_id, related_claim_id, kind),
    CHECK (claim_id <> related_claim_id)
);
CREATE INDEX claim_relation_related_idx ON claim_relation (related_claim_id);

-- Link rows carry the claim's said_key so per-entity / per-topic feeds are single index scans.
CREATE FUNCTION claim_link_said_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT c.said_key INTO NEW.said_key FROM claim c WHERE c.id = NEW.claim_id;
    RETURN NEW;
END $$;
CREATE TRIGGER claim_speaker_said_key BEFORE INSERT ON claim_speaker
    FOR EACH ROW EXECUTE FUNCTION claim_link_said_key();
CREATE TRIGGER mention_said_key BEFORE INSERT ON mention
    FOR EACH ROW EXECUTE FUNCTION claim_link_said_key();
CREATE TRIGGER claim_topic_said_key BEFORE INSERT ON claim_topic
    FOR EACH ROW EXECUTE FUNCTION claim_link_said_key();

CREATE FUNCTION claim_said_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE claim_speaker SET said_key = NEW.said_key WHERE claim_id = NEW.id;
    UPDATE mention SET said_key = NEW.said_key WHERE claim_id = NEW.id;
    UPDATE claim_topic SET said_key = NEW.said_key WHERE claim_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER claim_said_key_changed AFTER UPDATE OF said_at ON claim
    FOR EACH ROW WHEN (OLD.said_at IS DISTINCT FROM NEW.said_at) EXECUTE FUNCTION claim_said_key_changed();

-- Live updates: every new claim is announced once its transaction commits, on every worker.
CREATE FUNCTION claim_added_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('claim_added', NEW.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER claim_added_notify AFTER INSERT ON claim
    FOR EACH ROW EXECUTE FUNCTION claim_added_notify();

CREATE TABLE api_key (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix       text NOT NULL UNIQUE,
    hash         text NOT NULL,
    name         text NOT NULL DEFAULT '',
    scopes       text[] NOT NULL CHECK (scopes <@ ARRAY['read', 'write', 'admin']::text[] AND cardinality(scopes) > 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- Deleted claims are recorded, not erased: claim.deleted_at plus who deleted it and why.
CREATE TABLE claim_deletion (
    claim_id   bigint PRIMARY KEY REFERENCES claim (id) ON DELETE CASCADE,
    api_key_id bigint REFERENCES api_key (id),
    reason     text,
    deleted_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rate_limit (
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
