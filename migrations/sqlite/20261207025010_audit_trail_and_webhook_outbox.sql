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
-- Create "webhook_events" table
CREATE TABLE `webhook_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `event_id` uuid NOT NULL, `type` text NOT NULL, `user_id` uuid NOT NULL, `payload` text NOT NULL, `created_at` datetime NOT NULL DEFAULT (CURRENT_TIMESTAMP), `status` text NOT NULL DEFAULT 'pending', `attempts` integer NOT NULL DEFAULT 0, `next_attempt_at` datetime NOT NULL, `locked_until` datetime NULL, `claim` uuid NULL, `last_error` text NULL, `delivered_at` datetime NULL);
-- Create index "webhook_events_event_id_key" to table: "webhook_events"
CREATE UNIQUE INDEX `webhook_events_event_id_key` ON `webhook_events` (`event_id`);
-- Create index "webhookevent_status_next_attempt_at" to table: "webhook_events"
CREATE INDEX `webhookevent_status_next_attempt_at` ON `webhook_events` (`status`, `next_attempt_at`);
-- Create index "webhookevent_user_id_id" to table: "webhook_events"
CREATE INDEX `webhookevent_user_id_id` ON `webhook_events` (`user_id`, `id`);
-- Create index "webhookevent_created_at" to table: "webhook_events"
CREATE INDEX `webhookevent_created_at` ON `webhook_events` (`created_at`);
