-- Add column "last_used_at" to table: "user_auth_identities"
ALTER TABLE `user_auth_identities` ADD COLUMN `last_used_at` datetime NULL;
-- Create index "user_created_at_id" to table: "users"
CREATE INDEX `user_created_at_id` ON `users` (`created_at`, `id`);
