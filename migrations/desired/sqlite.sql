-- Create "audit_events" table
CREATE TABLE `audit_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `type` text NOT NULL, `actor_user_id` uuid NULL, `target_user_id` uuid NULL, `session_id` uuid NULL, `ip` text NULL, `details` json NULL);
-- Create index "auditevent_target_user_id_id" to table: "audit_events"
CREATE INDEX `auditevent_target_user_id_id` ON `audit_events` (`target_user_id`, `id`);
-- Create index "auditevent_actor_user_id_id" to table: "audit_events"
CREATE INDEX `auditevent_actor_user_id_id` ON `audit_events` (`actor_user_id`, `id`);
-- Create index "auditevent_type_id" to table: "audit_events"
CREATE INDEX `auditevent_type_id` ON `audit_events` (`type`, `id`);
-- Create index "auditevent_created_at" to table: "audit_events"
CREATE INDEX `auditevent_created_at` ON `audit_events` (`created_at`);
-- Create "user_auth_identities" table
CREATE TABLE `user_auth_identities` (`id` uuid NOT NULL, `provider` text NOT NULL, `provider_id` text NOT NULL, `email` text NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `last_used_at` datetime NULL, `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `user_auth_identities_users_identities` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "provider_unique_idx" to table: "user_auth_identities"
CREATE UNIQUE INDEX `provider_unique_idx` ON `user_auth_identities` (`provider`, `provider_id`);
-- Create index "authidentity_user_id" to table: "user_auth_identities"
CREATE INDEX `authidentity_user_id` ON `user_auth_identities` (`user_id`);
-- Create "phone_otps" table
CREATE TABLE `phone_otps` (`id` uuid NOT NULL, `phone_number` text NOT NULL, `otp_hash` text NOT NULL, `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `attempts` integer NOT NULL DEFAULT (0), PRIMARY KEY (`id`));
-- Create index "phoneotp_phone_number" to table: "phone_otps"
CREATE UNIQUE INDEX `phoneotp_phone_number` ON `phone_otps` (`phone_number`);
-- Create index "phoneotp_expires_at" to table: "phone_otps"
CREATE INDEX `phoneotp_expires_at` ON `phone_otps` (`expires_at`);
-- Create "auth_rate_limits" table
CREATE TABLE `auth_rate_limits` (`id` uuid NOT NULL, `key` text NOT NULL, `window_start` datetime NOT NULL, `count` integer NOT NULL DEFAULT (0), `expires_at` datetime NOT NULL, PRIMARY KEY (`id`));
-- Create index "ratelimit_key_window_start" to table: "auth_rate_limits"
CREATE UNIQUE INDEX `ratelimit_key_window_start` ON `auth_rate_limits` (`key`, `window_start`);
-- Create index "ratelimit_expires_at" to table: "auth_rate_limits"
CREATE INDEX `ratelimit_expires_at` ON `auth_rate_limits` (`expires_at`);
-- Create "user_refresh_tokens" table
CREATE TABLE `user_refresh_tokens` (`id` uuid NOT NULL, `token_hash` text NOT NULL, `device_info` text NULL, `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `generation` integer NOT NULL DEFAULT (0), `previous_token_hash` text NULL, `rotated_at` datetime NULL, `last_used_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `session_expires_at` datetime NULL, `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `user_refresh_tokens_users_refresh_tokens` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "refreshtoken_user_id_created_at" to table: "user_refresh_tokens"
CREATE INDEX `refreshtoken_user_id_created_at` ON `user_refresh_tokens` (`user_id`, `created_at`);
-- Create index "refreshtoken_expires_at" to table: "user_refresh_tokens"
CREATE INDEX `refreshtoken_expires_at` ON `user_refresh_tokens` (`expires_at`);
-- Create "users" table
CREATE TABLE `users` (`id` uuid NOT NULL, `role` text NULL, `full_name` text NULL, `profile_picture_url` text NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `updated_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), PRIMARY KEY (`id`));
-- Create index "user_created_at_id" to table: "users"
CREATE INDEX `user_created_at_id` ON `users` (`created_at`, `id`);
-- Create "webhook_events" table
CREATE TABLE `webhook_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `event_id` uuid NOT NULL, `type` text NOT NULL, `user_id` uuid NOT NULL, `payload` text NOT NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `status` text NOT NULL DEFAULT ('pending'), `attempts` integer NOT NULL DEFAULT (0), `next_attempt_at` datetime NOT NULL, `locked_until` datetime NULL, `claim` uuid NULL, `last_error` text NULL, `delivered_at` datetime NULL);
-- Create index "webhook_events_event_id_key" to table: "webhook_events"
CREATE UNIQUE INDEX `webhook_events_event_id_key` ON `webhook_events` (`event_id`);
-- Create index "webhookevent_status_next_attempt_at" to table: "webhook_events"
CREATE INDEX `webhookevent_status_next_attempt_at` ON `webhook_events` (`status`, `next_attempt_at`);
-- Create index "webhookevent_user_id_id" to table: "webhook_events"
CREATE INDEX `webhookevent_user_id_id` ON `webhook_events` (`user_id`, `id`);
-- Create index "webhookevent_created_at" to table: "webhook_events"
CREATE INDEX `webhookevent_created_at` ON `webhook_events` (`created_at`);
