-- Rows the pgbench ceilings read and write: 100 users per pgbench client
-- (up to 64 clients), each with one phone identity and one live session,
-- ids derived from the row number so the scripts can name them.
INSERT INTO users (id, role, created_at, updated_at)
  SELECT md5('u' || n)::uuid, 'creator', now(), now() FROM generate_series(1, 6500) n ON CONFLICT DO NOTHING;
INSERT INTO user_auth_identities (id, user_id, provider, provider_id, created_at, last_used_at)
  SELECT md5('i' || n)::uuid, md5('u' || n)::uuid, 'phone', '+1555' || lpad(n::text, 7, '0'), now(), now()
  FROM generate_series(1, 6500) n ON CONFLICT DO NOTHING;
INSERT INTO user_refresh_tokens (id, user_id, token_hash, device_info, expires_at, session_expires_at, created_at, generation, last_used_at)
  SELECT md5('s' || n)::uuid, md5('u' || n)::uuid, 'x', 'pgbench', now() + interval '30 days', now() + interval '90 days', now(), 0, now()
  FROM generate_series(1, 6500) n ON CONFLICT DO NOTHING;
ANALYZE users, user_auth_identities, user_refresh_tokens;
