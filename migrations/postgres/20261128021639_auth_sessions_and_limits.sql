-- Drop index "phoneotp_phone_number" from table: "phone_otps"
DROP INDEX "phoneotp_phone_number";
-- Modify "phone_otps" table
ALTER TABLE "phone_otps" ADD COLUMN "attempts" bigint NOT NULL DEFAULT 0, ADD CONSTRAINT "phoneotp_phone_number" UNIQUE ("phone_number");
-- Modify "user_refresh_tokens" table
ALTER TABLE "user_refresh_tokens" ADD COLUMN "generation" bigint NOT NULL DEFAULT 0, ADD COLUMN "previous_token_hash" character varying(255) NULL, ADD COLUMN "rotated_at" timestamptz NULL, ADD COLUMN "last_used_at" timestamptz NOT NULL DEFAULT now(), ADD COLUMN "session_expires_at" timestamptz NULL;
-- Create "auth_rate_limits" table
CREATE TABLE "auth_rate_limits" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "key" character varying(255) NOT NULL, "window_start" timestamptz NOT NULL, "count" bigint NOT NULL DEFAULT 0, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "ratelimit_key_window_start" UNIQUE ("key", "window_start"));
-- Create index "ratelimit_expires_at" to table: "auth_rate_limits"
CREATE INDEX "ratelimit_expires_at" ON "auth_rate_limits" ("expires_at");
