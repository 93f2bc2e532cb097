-- The issue's ceiling of a rotation: the conditional UPDATE of the session
-- by key, then the SELECT of its user, in one transaction (the service
-- sends one statement instead, refresh.sql).
\set n :client_id * 100 + random(1, 100)
BEGIN;
UPDATE user_refresh_tokens SET token_hash = 'x', previous_token_hash = 'x', generation = 0, rotated_at = now(), last_used_at = now(), expires_at = LEAST(now() + interval '720 hours', COALESCE(session_expires_at, now() + interval '720 hours')) WHERE id = md5('s' || :n)::uuid AND token_hash = 'x' AND generation = 0 AND expires_at > now();
SELECT id, role, full_name, profile_picture_url, created_at, updated_at FROM users WHERE id = md5('u' || :n)::uuid;
END;
