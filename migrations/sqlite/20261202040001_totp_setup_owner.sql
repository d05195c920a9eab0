-- An authenticator app being set up belongs to the session (or pending sign-in) that started
-- it: the id hash of that session or pending sign-in. Another session of the same person can
-- neither see nor confirm it, so a seed planted from a stolen session is useless to its owner's
-- later setup. NULL for seeds from before this column (and for confirmed seeds, where it no
-- longer matters): such an unconfirmed seed belongs to nobody and is replaced at the next setup.
ALTER TABLE totp_secrets ADD COLUMN owner_hash TEXT;
