ALTER TABLE access_tokens DROP CONSTRAINT IF EXISTS access_tokens_grant_id_fkey;
DROP TABLE IF EXISTS oauth_refresh_tokens;
DROP TABLE IF EXISTS oauth_authorization_codes;
DROP TABLE IF EXISTS oauth_grants;
