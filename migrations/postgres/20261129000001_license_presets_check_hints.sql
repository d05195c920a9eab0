-- PostgreSQL twin of migrations/sqlite/20261129000001_license_presets_check_hints.sql (same
-- columns). tests/api/schema.rs compares them.
-- Bindings an admin preset are kept apart from those a first check bound, so a reissue clears
-- only the bound ones (the preset lists are what the licence is sold for). A licence never
-- checked and never reissued holds only preset bindings, so those are copied over.
ALTER TABLE licenses ADD COLUMN preset_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE licenses ADD COLUMN preset_ips TEXT NOT NULL DEFAULT '';
ALTER TABLE licenses ADD COLUMN preset_directories TEXT NOT NULL DEFAULT '';
UPDATE licenses SET preset_domains = domains, preset_ips = ips, preset_directories = directories
    WHERE last_check_at IS NULL AND reissues = 0;

-- A masked form of the presented key (its prefix and a short hash, never the key), so checks
-- that match no licence can be grouped and shown to admins.
ALTER TABLE license_checks ADD COLUMN key_hint TEXT NOT NULL DEFAULT '';
