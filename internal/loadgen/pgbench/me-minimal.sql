-- The issue's ceiling of who-am-I: one SELECT of the user joined with its
-- live session, by key (without the sign-in methods the service's
-- statement adds).
\set n :client_id * 100 + random(1, 100)
SELECT u.id, u.role, u.full_name, u.profile_picture_url, u.created_at, u.updated_at FROM users u JOIN user_refresh_tokens s ON s.user_id = u.id WHERE u.id = md5('u' || :n)::uuid AND s.id = md5('s' || :n)::uuid AND s.expires_at > now();
