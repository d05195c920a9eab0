-- The OpenID provider's signing keys (src/oidc/keys.rs). Each is sealed at rest like the other
-- secrets, and published in the JWKS from its creation. A rotated-in key signs only from
-- `signs_from` (a day after it was made, so relying parties have fetched it first); the key it
-- replaces is retired from that moment and stays published for a week. Nothing is updated in
-- place, so every node reads the same state from the rows and the time.
CREATE TABLE oidc_signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    key_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    signs_from BIGINT NOT NULL
);
CREATE INDEX oidc_signing_keys_alg ON oidc_signing_keys (alg, signs_from);
