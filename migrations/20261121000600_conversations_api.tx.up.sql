-- The Conversations API (second reference): assignment, stars, unread
-- counts, message channels and delivery states, scheduled messages,
-- attachments uploaded before their message, transcripts, and full-text
-- search.

ALTER TABLE conversations
    ADD COLUMN assigned_to     text REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN starred         boolean NOT NULL DEFAULT false,
    ADD COLUMN unread_count    integer NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    -- The time of the latest visible guest or agent message (the creation
    -- time until there is one): the search's default sort key. Kept by the
    -- triggers below, like search_vector.
    ADD COLUMN last_message_at timestamptz,
    -- What a search matches: the customer's name and email (weight A) and
    -- every visible guest and agent message (weight D).
    ADD COLUMN search_vector   tsvector;

-- Messages: the reference's channel ("type" there; our seed-000 type stays
-- guest | agent | platform_action), the provider's error for a failed
-- delivery, and scheduling. A scheduled message is a row with scheduled_at
-- set and sent_at NULL: invisible to every list, stream and event until the
-- scheduler sends it (sets sent_at and moves created_at to the send time).
ALTER TABLE messages
    ADD COLUMN channel        text NOT NULL DEFAULT 'live_chat'
        CHECK (channel IN ('live_chat', 'webchat', 'sms', 'email', 'whatsapp', 'gmb', 'ig', 'fb', 'custom', 'call')),
    ADD COLUMN error_code     text,
    ADD COLUMN error_type     text,
    ADD COLUMN error_message  text,
    ADD COLUMN status_updated_at timestamptz,
    ADD COLUMN scheduled_at   timestamptz,
    ADD COLUMN sent_at        timestamptz,
    ADD COLUMN cancelled_at   timestamptz,
    -- A scheduler claims a due message with a lease (SKIP LOCKED), then
    -- sends it in a transaction that checks the lease token: a message is
    -- sent exactly once however many schedulers run.
    ADD COLUMN leased_until   timestamptz,
    ADD COLUMN lease_token    uuid,
    ADD CONSTRAINT messages_schedule_check CHECK (
        (scheduled_at IS NOT NULL OR (sent_at IS NULL AND cancelled_at IS NULL))
        AND NOT (sent_at IS NOT NULL AND cancelled_at IS NOT NULL));
CREATE INDEX messages_scheduled_due_idx ON messages (scheduled_at)
    WHERE scheduled_at IS NOT NULL AND sent_at IS NULL AND cancelled_at IS NULL;

-- Attachments are uploaded before the message that carries them, for one
-- conversation; a message then claims them.
ALTER TABLE attachments
    ADD COLUMN conversation_id uuid REFERENCES conversations (id) ON DELETE CASCADE,
    ADD COLUMN uploaded_by     text REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX attachments_unclaimed_idx ON attachments (conversation_id) WHERE message_id IS NULL;

-- Call transcripts, sentence by sentence (the reference's shape).
CREATE TABLE message_transcriptions (
    message_id      uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    sentences       jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Search. The text configuration is 'simple': words are lower-cased but not
-- stemmed, so names, emails and any language match as written.
CREATE FUNCTION chat_user_search_vector(name text, email text) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT setweight(to_tsvector('simple',
        coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(replace(email, '@', ' '), '')), 'A')
$$;

-- A conversation starts with its customer's words.
CREATE FUNCTION conversations_search_init() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.last_message_at := coalesce(NEW.last_message_at, NEW.created_at);
    IF NEW.search_vector IS NULL THEN
        NEW.search_vector := coalesce(
            (SELECT chat_user_search_vector(cu.name, cu.email) FROM chat_users AS cu WHERE cu.id = NEW.chat_user_id),
            ''::tsvector);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER conversations_search_init BEFORE INSERT ON conversations
    FOR EACH ROW EXECUTE FUNCTION conversations_search_init();

-- Each visible guest or agent message adds its words and moves
-- last_message_at. A conversation stops collecting new words past 20,000
-- distinct ones (a tsvector holds at most 1 MB).
CREATE FUNCTION conversations_search_add_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.type = 'platform_action' OR (NEW.scheduled_at IS NOT NULL AND NEW.sent_at IS NULL) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NOT (OLD.sent_at IS NULL AND NEW.sent_at IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    UPDATE conversations SET
        search_vector = CASE WHEN length(search_vector) < 20000
            THEN search_vector || to_tsvector('simple', NEW.content) ELSE search_vector END,
        last_message_at = greatest(last_message_at, NEW.created_at)
    WHERE id = NEW.conversation_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION conversations_search_add_message();
CREATE TRIGGER messages_search_sent AFTER UPDATE OF sent_at ON messages
    FOR EACH ROW EXECUTE FUNCTION conversations_search_add_message();

-- A customer's new name or email replaces the old one in every
-- conversation of theirs (ts_filter keeps the messages' weight-D words).
CREATE FUNCTION conversations_search_chat_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE conversations SET
        search_vector = ts_filter(search_vector, '{d}') || chat_user_search_vector(NEW.name, NEW.email)
    WHERE chat_user_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER chat_users_search AFTER UPDATE OF name, email ON chat_users
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION conversations_search_chat_user();

-- Existing data.
UPDATE conversations AS c SET
    last_message_at = coalesce(
        (SELECT max(m.created_at) FROM messages AS m WHERE m.conversation_id = c.id AND m.type <> 'platform_action'),
        c.created_at),
    search_vector = coalesce(
        (SELECT chat_user_search_vector(cu.name, cu.email) FROM chat_users AS cu WHERE cu.id = c.chat_user_id), '')
        || coalesce(
        (SELECT to_tsvector('simple', string_agg(m.content, ' ' ORDER BY m.created_at))
         FROM messages AS m WHERE m.conversation_id = c.id AND m.type <> 'platform_action'), '');
ALTER TABLE conversations
    ALTER COLUMN last_message_at SET NOT NULL,
    ALTER COLUMN search_vector SET NOT NULL;

-- The search reads one workspace's live conversations: matching words
-- through the GIN index, or walking a sort order and checking each row,
-- whichever the planner estimates cheaper (rare words, common words).
CREATE INDEX conversations_search_idx ON conversations USING gin (search_vector)
    WHERE deleted_at IS NULL;
CREATE INDEX conversations_org_last_message_idx ON conversations (organization_id, last_message_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX conversations_org_created_idx ON conversations (organization_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX conversations_assigned_to_idx ON conversations (assigned_to, last_message_at DESC, id DESC)
    WHERE deleted_at IS NULL AND assigned_to IS NOT NULL;
-- Make routes of a deleted conversation's events skip it.
CREATE INDEX conversations_deleted_idx ON conversations (id) WHERE deleted_at IS NOT NULL;
