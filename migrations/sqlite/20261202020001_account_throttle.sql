-- Failed authentication steps per account (password and second factor, from any address), for
-- the growing delay of crate::throttle. `subject` is `id:<account id>` for an account that
-- exists and `unknown:<keyed hash>` for an identifier that matched none, so both are counted
-- alike and the table never holds what was typed. `blocked_until` is when the next attempt is
-- checked again; `noticed_at` when the owner was last told about a failed second factor.
CREATE TABLE account_throttle (
    realm TEXT NOT NULL,
    subject TEXT NOT NULL,
    failures BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    noticed_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (realm, subject)
);
CREATE INDEX account_throttle_updated ON account_throttle (updated_at);
