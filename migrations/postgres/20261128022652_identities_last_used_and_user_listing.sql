-- Modify "user_auth_identities" table
ALTER TABLE "user_auth_identities" ADD COLUMN "last_used_at" timestamptz NULL;
-- Create index "user_created_at_id" to table: "users"
CREATE INDEX "user_created_at_id" ON "users" ("created_at", "id");
