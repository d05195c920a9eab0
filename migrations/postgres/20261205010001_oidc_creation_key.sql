-- An application's creation key: the SHA-256 of the one-time key the new-application form
-- carried, so that the same form sent twice (a reload of the page showing the secret, a double
-- click) creates one application, not two. NULL for applications made otherwise.
ALTER TABLE oidc_applications ADD COLUMN creation_key_hash TEXT;
CREATE UNIQUE INDEX oidc_applications_creation_key ON oidc_applications (creation_key_hash);
