-- The OAuth 2.0 authorization server (internal/oauth).
--
-- A grant is one user's authorization of one client: the authorization code
-- the user approved and every access and refresh token that descends from
-- it. Revoking a grant (code replay, refresh-token reuse, RFC 7009
-- revocation of a refresh token) revokes all of them at once. Every writer
-- locks the grant row before touching its codes or tokens, so a revocation
-- and an issuance never miss each other.
CREATE TABLE oauth_grants (
    id            text PRIMARY KEY,                       -- grt_…
    client_id     text NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes        text[] NOT NULL,                        -- what the user approved
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX oauth_grants_user_id_idx ON oauth_grants (user_id);
CREATE INDEX oauth_grants_client_id_idx ON oauth_grants (client_id);

-- Authorization codes, stored as SHA-256 hashes. A code is redeemed at most
-- once (consumed_at); it stays after redemption so that a replay can be
-- recognised and its grant revoked (RFC 6749 §4.1.2).
CREATE TABLE oauth_authorization_codes (
    code_hash             bytea PRIMARY KEY,
    grant_id              text NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    client_id             text NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id               text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri          text NOT NULL,
    scopes                text[] NOT NULL,
    code_challenge        text,
    code_challenge_method text CHECK (code_challenge_method IN ('S256')),
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    consumed_at           timestamptz,
    CHECK ((code_challenge IS NULL) = (code_challenge_method IS NULL)),
    CHECK (expires_at > created_at AND expires_at <= created_at + interval '10 minutes')
);
CREATE INDEX oauth_authorization_codes_grant_id_idx ON oauth_authorization_codes (grant_id);
CREATE INDEX oauth_authorization_codes_expires_at_idx ON oauth_authorization_codes (expires_at);

-- Refresh tokens, stored as SHA-256 hashes. Each use rotates the token:
-- the old row gets rotated_at and a successor; presenting a rotated token
-- again revokes the whole grant (RFC 9700 §4.14.2).
CREATE TABLE oauth_refresh_tokens (
    id              text PRIMARY KEY,                     -- rft_…
    token_hash      bytea NOT NULL UNIQUE,
    grant_id        text NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    client_id       text NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_token_id text REFERENCES access_tokens (id) ON DELETE SET NULL,
    scopes          text[] NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    rotated_at      timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX oauth_refresh_tokens_grant_id_idx ON oauth_refresh_tokens (grant_id);

-- Access tokens issued through OAuth name their grant.
ALTER TABLE access_tokens
    ADD CONSTRAINT access_tokens_grant_id_fkey FOREIGN KEY (grant_id) REFERENCES oauth_grants (id) ON DELETE CASCADE;
