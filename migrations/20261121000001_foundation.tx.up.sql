-- People who sign in. Emails are unique regardless of case.
CREATE TABLE users (
    id            text PRIMARY KEY,                       -- usr_…
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,                          -- argon2id, PHC string
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Workspaces.
CREATE TABLE organizations (
    id         text PRIMARY KEY,                          -- org_…
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, organization_id)
);
CREATE INDEX memberships_organization_id_idx ON memberships (organization_id);

CREATE TABLE agents (
    id              text PRIMARY KEY,                     -- agt_…
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_organization_id_idx ON agents (organization_id, created_at DESC, id DESC);

-- Customers. Any field may be unknown; external_id identifies a returning
-- customer within a workspace.
CREATE TABLE chat_users (
    id              text PRIMARY KEY,                     -- chu_…
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text,
    email           text,
    country_code    text,
    external_id     text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX chat_users_external_id_key ON chat_users (organization_id, external_id)
    WHERE external_id IS NOT NULL;

CREATE TABLE conversations (
    id                uuid PRIMARY KEY,
    organization_id   text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    agent_id          text NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    chat_user_id      text REFERENCES chat_users (id) ON DELETE SET NULL,
    session_id        text NOT NULL,
    response_mode     text NOT NULL DEFAULT 'ai' CHECK (response_mode IN ('ai', 'human')),
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    last_message_seen boolean NOT NULL DEFAULT false,
    last_message_id   uuid,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    closed_at         timestamptz,
    deleted_at        timestamptz
);
-- The list filters are: agent, optionally status and/or response mode,
-- optionally a created_at range; always newest first with the id as a tie
-- breaker. One index per filter shape lets every combination read exactly
-- one page off an index, whatever the table size.
CREATE INDEX conversations_agent_idx ON conversations (agent_id, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX conversations_agent_status_idx ON conversations (agent_id, status, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX conversations_agent_mode_idx ON conversations (agent_id, response_mode, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX conversations_agent_status_mode_idx ON conversations (agent_id, status, response_mode, created_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX conversations_chat_user_id_idx ON conversations (chat_user_id);

CREATE TABLE messages (
    id                uuid PRIMARY KEY,
    conversation_id   uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    organization_id   text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type              text NOT NULL CHECK (type IN ('guest', 'agent', 'platform_action')),
    responder_type    text CHECK (responder_type IN ('ai', 'human_assistant')),
    responder_user_id text REFERENCES users (id) ON DELETE SET NULL,
    content           text NOT NULL,
    via               text NOT NULL DEFAULT 'web',
    is_read           boolean,
    status            text,
    emailed_at        timestamptz,
    email_seen        boolean NOT NULL DEFAULT false,
    email_opened_at   timestamptz,
    user_feedback     text CHECK (user_feedback IN ('positive', 'negative', 'not-allowed')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((type = 'agent') = (responder_type IS NOT NULL))
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, created_at DESC, id DESC);

CREATE TABLE attachments (
    id              text PRIMARY KEY,                     -- att_…
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    message_id      uuid REFERENCES messages (id) ON DELETE CASCADE,
    file_name       text NOT NULL,
    content_type    text NOT NULL,
    size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),
    storage_key     text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_message_id_idx ON attachments (message_id);

-- The outbox. A change and its event commit together. Readers walk it in
-- (txid, seq) order and only up to the oldest transaction still running
-- (pg_snapshot_xmin), so an event can never appear behind a reader's cursor:
-- every transaction that could still commit an event has a txid at or above
-- that horizon.
CREATE TABLE events (
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    id              uuid PRIMARY KEY,
    txid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    type            text NOT NULL CHECK (type IN ('new_conversation', 'human_handoff_required')),
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    agent_id        text NOT NULL,
    conversation_id uuid NOT NULL,
    payload         json NOT NULL,                        -- the webhook body, byte for byte
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX events_stream_idx ON events (txid, seq);
CREATE INDEX events_organization_stream_idx ON events (organization_id, txid, seq);
CREATE INDEX events_agent_recent_idx ON events (agent_id, type, created_at DESC, seq DESC);

CREATE TABLE oauth_clients (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    secret_hash   text,                                   -- NULL for public clients
    redirect_uris text[] NOT NULL,
    scopes        text[] NOT NULL,                        -- what the client may ask for
    public        boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (public = (secret_hash IS NULL))
);

-- Bearer tokens, stored as SHA-256 hashes of their values.
CREATE TABLE access_tokens (
    id         text PRIMARY KEY,                          -- tok_…
    token_hash bytea NOT NULL UNIQUE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text REFERENCES oauth_clients (id) ON DELETE CASCADE,
    grant_id   text,                                      -- the OAuth grant (code) it descends from
    scopes     text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX access_tokens_user_id_idx ON access_tokens (user_id);
CREATE INDEX access_tokens_grant_id_idx ON access_tokens (grant_id) WHERE grant_id IS NOT NULL;
