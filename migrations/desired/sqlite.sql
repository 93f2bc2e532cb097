-- Create "user_auth_identities" table
CREATE TABLE `user_auth_identities` (`id` uuid NOT NULL, `provider` text NOT NULL, `provider_id` text NOT NULL, `email` text NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `user_auth_identities_users_identities` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "provider_unique_idx" to table: "user_auth_identities"
CREATE UNIQUE INDEX `provider_unique_idx` ON `user_auth_identities` (`provider`, `provider_id`);
-- Create index "authidentity_user_id" to table: "user_auth_identities"
CREATE INDEX `authidentity_user_id` ON `user_auth_identities` (`user_id`);
-- Create "phone_otps" table
CREATE TABLE `phone_otps` (`id` uuid NOT NULL, `phone_number` text NOT NULL, `otp_hash` text NOT NULL, `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), PRIMARY KEY (`id`));
-- Create index "phoneotp_phone_number" to table: "phone_otps"
CREATE INDEX `phoneotp_phone_number` ON `phone_otps` (`phone_number`);
-- Create index "phoneotp_expires_at" to table: "phone_otps"
CREATE INDEX `phoneotp_expires_at` ON `phone_otps` (`expires_at`);
-- Create "user_refresh_tokens" table
CREATE TABLE `user_refresh_tokens` (`id` uuid NOT NULL, `token_hash` text NOT NULL, `device_info` text NULL, `expires_at` datetime NOT NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `user_id` uuid NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `user_refresh_tokens_users_refresh_tokens` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "refreshtoken_user_id_created_at" to table: "user_refresh_tokens"
CREATE INDEX `refreshtoken_user_id_created_at` ON `user_refresh_tokens` (`user_id`, `created_at`);
-- Create index "refreshtoken_expires_at" to table: "user_refresh_tokens"
CREATE INDEX `refreshtoken_expires_at` ON `user_refresh_tokens` (`expires_at`);
-- Create "users" table
CREATE TABLE `users` (`id` uuid NOT NULL, `role` text NULL, `full_name` text NULL, `profile_picture_url` text NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `updated_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), PRIMARY KEY (`id`));
