-- A rotation's one statement (POST /v1/auth/refresh), as the service sends
-- it, with its parameters (internal/loadgen's test keeps it equal to the
-- service's). The new token hash and generation are the old ones, so the
-- conditional UPDATE always matches and each run rotates:
-- $1: 'x'
-- $2: 'x'
-- $3: 0
-- $4: now()
-- $5: now()
-- $6: now() + interval '720 hours'
-- $7: now() + interval '720 hours'
-- $8: md5('s' || :n)::uuid
-- $9: 'x'
-- $10: 0
-- $11: now()
\set n :client_id * 100 + random(1, 100)
WITH "rotated" AS (UPDATE "user_refresh_tokens" SET "token_hash" = 'x', "previous_token_hash" = 'x', "generation" = 0, "rotated_at" = now(), "last_used_at" = now(), "expires_at" = LEAST(now() + interval '720 hours', COALESCE("session_expires_at", now() + interval '720 hours')) WHERE "user_refresh_tokens"."id" = md5('s' || :n)::uuid AND "user_refresh_tokens"."token_hash" = 'x' AND "user_refresh_tokens"."generation" = 0 AND "user_refresh_tokens"."expires_at" > now() RETURNING "user_id") SELECT "users"."id", "users"."role", "users"."full_name", "users"."profile_picture_url", "users"."created_at", "users"."updated_at" FROM "users" WHERE "users"."id" IN (SELECT "user_id" FROM "rotated");
