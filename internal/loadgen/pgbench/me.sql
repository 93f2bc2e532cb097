-- Who-am-I's one statement (GET /v1/me), as the service sends it, with its
-- parameters (internal/loadgen's test keeps it equal to the service's):
-- $1: md5('u' || :n)::uuid
-- $2: md5('s' || :n)::uuid
-- $3: now()
\set n :client_id * 100 + random(1, 100)
SELECT "users"."id", "users"."role", "users"."full_name", "users"."profile_picture_url", "users"."created_at", "users"."updated_at", "t1"."id" AS "identity_id", "t1"."provider" AS "identity_provider", "t1"."provider_id" AS "identity_provider_id", "t1"."email" AS "identity_email", "t1"."created_at" AS "identity_created_at", "t1"."last_used_at" AS "identity_last_used_at" FROM "users" LEFT JOIN "user_auth_identities" AS "t1" ON "users"."id" = "t1"."user_id" WHERE "users"."id" = md5('u' || :n)::uuid AND EXISTS (SELECT "user_refresh_tokens"."user_id" FROM "user_refresh_tokens" WHERE "users"."id" = "user_refresh_tokens"."user_id" AND "user_refresh_tokens"."id" = md5('s' || :n)::uuid AND "user_refresh_tokens"."expires_at" > now()) ORDER BY "t1"."created_at", "t1"."id";
