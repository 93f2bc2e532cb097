-- Create enum type "auth_provider"
CREATE TYPE "auth_provider" AS ENUM ('google', 'facebook', 'phone');
-- Create enum type "user_role"
CREATE TYPE "user_role" AS ENUM ('creator', 'agency', 'brand', 'gifter', 'admin');
-- Create "phone_otps" table
CREATE TABLE "phone_otps" ("id" uuid NOT NULL DEFAULT (gen_random_uuid()), "phone_number" character varying(50) NOT NULL, "otp_hash" character varying(255) NOT NULL, "expires_at" timestamptz NOT NULL, "created_at" timestamptz NOT NULL DEFAULT (now()), "attempts" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"), CONSTRAINT "phoneotp_phone_number" UNIQUE ("phone_number"));
-- Create index "phoneotp_expires_at" to table: "phone_otps"
CREATE INDEX "phoneotp_expires_at" ON "phone_otps" ("expires_at");
-- Create "auth_rate_limits" table
CREATE TABLE "auth_rate_limits" ("id" uuid NOT NULL DEFAULT (gen_random_uuid()), "key" character varying(255) NOT NULL, "window_start" timestamptz NOT NULL, "count" bigint NOT NULL DEFAULT 0, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "ratelimit_key_window_start" UNIQUE ("key", "window_start"));
-- Create index "ratelimit_expires_at" to table: "auth_rate_limits"
CREATE INDEX "ratelimit_expires_at" ON "auth_rate_limits" ("expires_at");
-- Create "users" table
CREATE TABLE "users" ("id" uuid NOT NULL DEFAULT (gen_random_uuid()), "role" "user_role" NULL, "full_name" character varying(255) NULL, "profile_picture_url" text NULL, "created_at" timestamptz NOT NULL DEFAULT (now()), "updated_at" timestamptz NOT NULL DEFAULT (now()), PRIMARY KEY ("id"));
-- Create index "user_created_at_id" to table: "users"
CREATE INDEX "user_created_at_id" ON "users" ("created_at", "id");
-- Create "user_auth_identities" table
CREATE TABLE "user_auth_identities" ("id" uuid NOT NULL DEFAULT (gen_random_uuid()), "provider" "auth_provider" NOT NULL, "provider_id" text NOT NULL, "email" character varying(255) NULL, "created_at" timestamptz NOT NULL DEFAULT (now()), "last_used_at" timestamptz NULL, "user_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "provider_unique_idx" UNIQUE ("provider", "provider_id"), CONSTRAINT "user_auth_identities_users_identities" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE);
-- Create index "authidentity_user_id" to table: "user_auth_identities"
CREATE INDEX "authidentity_user_id" ON "user_auth_identities" ("user_id");
-- Create "user_refresh_tokens" table
CREATE TABLE "user_refresh_tokens" ("id" uuid NOT NULL DEFAULT (gen_random_uuid()), "token_hash" character varying(255) NOT NULL, "device_info" text NULL, "expires_at" timestamptz NOT NULL, "created_at" timestamptz NOT NULL DEFAULT (now()), "generation" bigint NOT NULL DEFAULT 0, "previous_token_hash" character varying(255) NULL, "rotated_at" timestamptz NULL, "last_used_at" timestamptz NOT NULL DEFAULT (now()), "session_expires_at" timestamptz NULL, "user_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "user_refresh_tokens_users_refresh_tokens" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON DELETE CASCADE);
-- Create index "refreshtoken_user_id_created_at" to table: "user_refresh_tokens"
CREATE INDEX "refreshtoken_user_id_created_at" ON "user_refresh_tokens" ("user_id", "created_at");
-- Create index "refreshtoken_expires_at" to table: "user_refresh_tokens"
CREATE INDEX "refreshtoken_expires_at" ON "user_refresh_tokens" ("expires_at");
