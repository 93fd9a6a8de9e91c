-- The functions log in as dream_photo_app, which reads and writes rows but cannot change the schema:
-- a leaked function credential (or an injected statement) cannot drop or alter a table. Migrations
-- run as the tables' owner (`dream-photo migrate`, docs/deploy.md). On RDS the role logs in with IAM
-- auth tokens (rds_iam); elsewhere (one machine, tests) it has no password and local trust applies.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dream_photo_app') THEN
        CREATE ROLE dream_photo_app LOGIN;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
        GRANT rds_iam TO dream_photo_app;
    END IF;
END
$$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO dream_photo_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO dream_photo_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO dream_photo_app;
-- Tables and sequences later migrations create (as the same owner) come with the same rights.
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO dream_photo_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO dream_photo_app;
-- The migration history is the owner's alone.
REVOKE ALL ON refinery_schema_history FROM dream_photo_app;
