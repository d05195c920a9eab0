-- The links cleanup removes authenticator seeds never confirmed within their setup time; this
-- partial index finds them without reading the confirmed ones (most rows).
CREATE INDEX totp_secrets_unconfirmed_created ON totp_secrets (created_at) WHERE confirmed_at IS NULL;
