-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_phone_otps" table
CREATE TABLE `new_phone_otps` (`id` uuid NOT NULL, `phone_number` text NOT NULL, `otp_hash` text NOT NULL, `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `attempts` integer NOT NULL DEFAULT 0, PRIMARY KEY (`id`));
-- Copy rows from old table "phone_otps" to new temporary table "new_phone_otps"
INSERT INTO `new_phone_otps` (`id`, `phone_number`, `otp_hash`, `expires_at`, `created_at`) SELECT `id`, `phone_number`, `otp_hash`, `expires_at`, `created_at` FROM `phone_otps`;
-- Drop "phone_otps" table after copying rows
DROP TABLE `phone_otps`;
-- Rename temporary table "new_phone_otps" to "phone_otps"
ALTER TABLE `new_phone_otps` RENAME TO `phone_otps`;
-- Create index "phoneotp_phone_number" to table: "phone_otps"
CREATE UNIQUE INDEX `phoneotp_phone_number` ON `phone_otps` (`phone_number`);
-- Create index "phoneotp_expires_at" to table: "phone_otps"
CREATE INDEX `phoneotp_expires_at` ON `phone_otps` (`expires_at`);
-- Create "new_user_refresh_tokens" table
CREATE TABLE `new_user_refresh_tokens` (`id` uuid NOT NULL, `token_hash` text NOT NULL, `device_info` text NULL, `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `generation` integer NOT NULL DEFAULT 0, `previous_token_hash` text NULL, `rotated_at` datetime NULL, `last_used_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `session_expires_at` datetime NULL, `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `user_refresh_tokens_users_refresh_tokens` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON UPDATE NO ACTION ON DELETE CASCADE);
-- Copy rows from old table "user_refresh_tokens" to new temporary table "new_user_refresh_tokens"
INSERT INTO `new_user_refresh_tokens` (`id`, `token_hash`, `device_info`, `expires_at`, `created_at`, `user_id`) SELECT `id`, `token_hash`, `device_info`, `expires_at`, `created_at`, `user_id` FROM `user_refresh_tokens`;
-- Drop "user_refresh_tokens" table after copying rows
DROP TABLE `user_refresh_tokens`;
-- Rename temporary table "new_user_refresh_tokens" to "user_refresh_tokens"
ALTER TABLE `new_user_refresh_tokens` RENAME TO `user_refresh_tokens`;
-- Create index "refreshtoken_user_id_created_at" to table: "user_refresh_tokens"
CREATE INDEX `refreshtoken_user_id_created_at` ON `user_refresh_tokens` (`user_id`, `created_at`);
-- Create index "refreshtoken_expires_at" to table: "user_refresh_tokens"
CREATE INDEX `refreshtoken_expires_at` ON `user_refresh_tokens` (`expires_at`);
-- Create "auth_rate_limits" table
CREATE TABLE `auth_rate_limits` (`id` uuid NOT NULL, `key` text NOT NULL, `window_start` datetime NOT NULL, `count` integer NOT NULL DEFAULT 0, `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "ratelimit_key_window_start" to table: "auth_rate_limits"
CREATE UNIQUE INDEX `ratelimit_key_window_start` ON `auth_rate_limits` (`key`, `window_start`);
-- Create index "ratelimit_expires_at" to table: "auth_rate_limits"
CREATE INDEX `ratelimit_expires_at` ON `auth_rate_limits` (`expires_at`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
