package config

import (
	"strings"
)

// Key describes one configuration key. The table returned by Keys is the single source of
// truth: it sets viper's defaults and generates .env.example.
type Key struct {
	// Name is the environment variable name; the config file uses the same name in lower case.
	Name string
	// Default is the default value as text, parsed exactly like a value from the environment.
	Default string
	// Secret keys are left empty in .env.example and never echoed in error messages.
	Secret bool
	// Group is the heading the key is listed under in .env.example.
	Group string
	// Help is a one-line meaning.
	Help string
}

// viperKey is the key's name inside viper and the config file.
func (k Key) viperKey() string { return strings.ToLower(k.Name) }

// keys is ordered as .env.example lists it; every entry matches one mapstructure tag in Config.
var keys = []Key{
	{Group: "Application", Name: "APP_ENV", Default: "development", Help: "Deployment environment: development or production."},
	{Group: "Application", Name: "LOG_LEVEL", Default: "info", Help: "Minimum log level: debug, info, warn or error."},
	{Group: "Application", Name: "LOG_FORMAT", Default: "", Help: "Log output format: text or json; empty means json in production, readable text in development."},

	{Group: "HTTP", Name: "HTTP_ADDR", Default: ":8080", Help: "Address the HTTP server listens on (host:port)."},
	{Group: "HTTP", Name: "SHUTDOWN_TIMEOUT", Default: "15s", Help: "On SIGTERM, how long requests in flight get to finish before the process exits."},
	{Group: "HTTP", Name: "TRUSTED_PROXIES", Default: "", Help: "Comma list of proxy CIDRs or IPs whose X-Forwarded-For is trusted; empty trusts none (0.0.0.0/0 or ::/0, trusting anyone, logs a warning)."},

	{Group: "HTTP", Name: "METRICS_ADDR", Default: "", Help: "host:port of a separate listener serving Prometheus metrics at /metrics (e.g. 127.0.0.1:9090); empty turns it off. The public port never serves /metrics."},
	{Group: "HTTP", Name: "PPROF_ADDR", Default: "", Help: "Loopback host:port (127.0.0.1:6060) of a listener serving Go's profiler at /debug/pprof/ (CPU, heap, block, mutex, goroutines); empty turns it off. Only a loopback address is accepted."},
	{Group: "HTTP", Name: "CORS_ALLOWED_ORIGINS", Default: "", Help: "Comma list of browser origins (https://app.example.com) allowed to call the API; empty allows none; * allows any and is refused in production."},

	{Group: "Pages", Name: "SCHEMA_UI", Default: "", Help: "Serve the schema diagram at GET /schema: true or false; empty means on in development, off in production."},
	{Group: "Pages", Name: "DOCS_UI", Default: "", Help: "Serve the API reference at GET /docs: true or false; empty means on in development, off in production."},
	{Group: "Pages", Name: "CONSOLE_UI", Default: "", Help: "Serve the sign-in console at GET /console: true or false; empty means on in development, off in production."},

	{Group: "Database", Name: "DATABASE_URL", Default: "", Secret: true, Help: "PostgreSQL URL (postgres://...); empty uses the embedded SQLite database."},
	{Group: "Database", Name: "MIGRATION_DATABASE_URL", Default: "", Secret: true, Help: "PostgreSQL URL used to apply migrations (at startup and by agency migrate); empty uses DATABASE_URL. Behind a transaction pooler (PgBouncer pool_mode=transaction) set it to a direct connection: the migration lock is a session-level advisory lock, the Atlas CLI's protocol."},
	{Group: "Database", Name: "SQLITE_PATH", Default: "./data/agency.db", Help: "SQLite database file, used when DATABASE_URL is empty."},
	{Group: "Database", Name: "DB_MAX_OPEN_CONNS", Default: "10", Help: "Maximum open database connections (>= 1)."},
	{Group: "Database", Name: "DB_MAX_IDLE_CONNS", Default: "10", Help: "Maximum idle database connections (0..DB_MAX_OPEN_CONNS)."},
	{Group: "Database", Name: "DB_CONN_MAX_IDLE_TIME", Default: "20s", Help: "Close connections idle this long; 0 keeps them."},
	{Group: "Database", Name: "DB_CONN_MAX_LIFETIME", Default: "30m", Help: "Recycle connections after this long; 0 keeps them."},
	{Group: "Database", Name: "DB_CONNECT_TIMEOUT", Default: "10s", Help: "How long to wait for the database at startup."},
	{Group: "Database", Name: "DB_QUERY_TIMEOUT", Default: "3s", Help: "Database time one request may spend in all, its statements and transactions together (each gets what the ones before it left); past it the request answers 503 unavailable. Background jobs get it per statement and transaction."},
	{Group: "Database", Name: "DB_PREPARED_STATEMENTS", Default: "auto", Help: "PostgreSQL: prepare each statement once per connection and run it by name (planning is most of a hot statement's cost): true, false, or auto (on, unless a transaction pooler is found between the service and PostgreSQL at startup, where named statements do not survive from one transaction to the next). Set true behind PgBouncer 1.21+ with max_prepared_statements."},
	{Group: "Database", Name: "MIGRATE_ON_START", Default: "true", Help: "Apply pending migrations at startup (true or false)."},

	{Group: "Background jobs", Name: "CLEANUP_INTERVAL", Default: "10m", Help: "How often expired OTPs and sessions, old audit rows and old webhook events are purged; 0 disables the job, else at least 1s."},
	{Group: "Background jobs", Name: "AUDIT_RETENTION", Default: "400d", Help: "How long audit trail rows are kept (a duration; d counts days); the cleanup job deletes older ones."},

	{Group: "Webhooks", Name: "WEBHOOK_URL", Default: "", Help: "URL that receives event webhooks (user.created, user.role_selected, user.updated, user.deleted, identity.linked, identity.unlinked) as Standard Webhooks POSTs; empty queues and sends nothing."},
	{Group: "Webhooks", Name: "WEBHOOK_SECRET", Default: "", Secret: true, Help: "Signing secret of the webhooks: whsec_ and the base64 of 24 to 64 random bytes; required with WEBHOOK_URL."},
	{Group: "Webhooks", Name: "WEBHOOK_TIMEOUT", Default: "5s", Help: "How long one delivery attempt may take; a 2xx within it is delivery."},
	{Group: "Webhooks", Name: "WEBHOOK_MAX_ATTEMPTS", Default: "12", Help: "Attempts per event (retries back off from 40 s, doubling, with jitter: 12 span about a day) before it is marked failed."},
	{Group: "Webhooks", Name: "WEBHOOK_RETENTION", Default: "30d", Help: "How long delivered and failed webhook events are kept before the cleanup job deletes them."},

	{Group: "One-time passwords", Name: "OTP_SECRET", Default: "", Secret: true, Help: "Server key used to hash OTP codes at rest; at least 32 bytes."},
	{Group: "One-time passwords", Name: "OTP_TTL", Default: "5m", Help: "How long an OTP code stays valid."},
	{Group: "One-time passwords", Name: "OTP_RESEND_COOLDOWN", Default: "60s", Help: "Minimum wait before another code is sent to the same phone."},
	{Group: "One-time passwords", Name: "OTP_MAX_SENDS_PER_HOUR", Default: "5", Help: "Codes sent to one phone per hour at most."},
	{Group: "One-time passwords", Name: "OTP_MAX_SENDS_PER_IP_PER_HOUR", Default: "30", Help: "Codes requested from one client IP per hour at most."},
	{Group: "One-time passwords", Name: "OTP_MAX_ATTEMPTS", Default: "5", Help: "Wrong guesses allowed for one code before it is burned."},
	{Group: "One-time passwords", Name: "OTP_MAX_FAILURES_PER_DAY", Default: "20", Help: "Wrong guesses allowed for one phone in any 24 hours (sliding) before it is locked; guesses at a number with no live code do not count."},
	{Group: "One-time passwords", Name: "OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR", Default: "30", Help: "Wrong codes one client (IPv4 address or IPv6 /64) may try in any hour (sliding) before its verifies are refused."},

	{Group: "SMS delivery", Name: "SMS_PROVIDER", Default: "log", Help: "How codes are delivered: log (development), webhook or twilio."},
	{Group: "SMS delivery", Name: "SMS_WEBHOOK_URL", Default: "", Help: "URL the webhook provider POSTs messages to."},
	{Group: "SMS delivery", Name: "SMS_TIMEOUT", Default: "5s", Help: "Timeout for one call to the SMS provider."},
	{Group: "SMS delivery", Name: "SMS_ALLOWED_COUNTRIES", Default: "", Help: "Comma list of ISO 3166 alpha-2 regions that codes may be sent to (e.g. IN,US); empty allows all."},
	{Group: "SMS delivery", Name: "SMS_TEST_OTPS", Default: "", Help: "Comma list of fixed test codes, +NUMBER=CODE; no SMS is sent to these numbers."},
	{Group: "SMS delivery", Name: "TWILIO_ACCOUNT_SID", Default: "", Help: "Twilio account SID."},
	{Group: "SMS delivery", Name: "TWILIO_AUTH_TOKEN", Default: "", Secret: true, Help: "Twilio auth token."},
	{Group: "SMS delivery", Name: "TWILIO_FROM", Default: "", Help: "Twilio sender number or messaging service SID."},
	{Group: "SMS delivery", Name: "TWILIO_BASE_URL", Default: "https://api.twilio.com", Help: "Twilio API base URL (overridden in tests)."},

	{Group: "Access tokens", Name: "JWT_ISSUER", Default: "agency-platform", Help: "iss claim of issued access tokens."},
	{Group: "Access tokens", Name: "JWT_AUDIENCE", Default: "agency-platform", Help: "aud claim of issued access tokens."},
	{Group: "Access tokens", Name: "JWT_ALGORITHM", Default: "ES256", Help: "Signing algorithm: ES256 (uses JWT_PRIVATE_KEY) or HS256 (uses JWT_SECRET)."},
	{Group: "Access tokens", Name: "JWT_PRIVATE_KEY", Default: "", Secret: true, Help: "ES256 private key: PEM text or a path to a PEM file."},
	{Group: "Access tokens", Name: "JWT_SECRET", Default: "", Secret: true, Help: "HS256 signing key, at least 32 bytes."},
	{Group: "Access tokens", Name: "ACCESS_TOKEN_TTL", Default: "15m", Help: "Lifetime of an access token."},

	{Group: "Sessions", Name: "REFRESH_TOKEN_TTL", Default: "720h", Help: "Lifetime of a refresh token; each rotation starts a new one."},
	{Group: "Sessions", Name: "SESSION_MAX_AGE", Default: "2160h", Help: "Absolute session lifetime, however often it is refreshed."},
	{Group: "Sessions", Name: "REFRESH_REUSE_GRACE", Default: "10s", Help: "Window in which a just-rotated refresh token may be replayed (concurrent requests)."},
	{Group: "Sessions", Name: "REFRESH_TOKEN_SECRET", Default: "", Secret: true, Help: "Server key used to derive and hash rotated refresh tokens; at least 32 bytes."},
	{Group: "Sessions", Name: "MAX_SESSIONS_PER_USER", Default: "5", Help: "Signed-in devices per user; the oldest session is evicted beyond it."},

	{Group: "Sign-in providers", Name: "PROVIDER_TIMEOUT", Default: "5s", Help: "Timeout for one call to Google or Facebook."},
	{Group: "Sign-in providers", Name: "PROVIDER_SIGNINS_PER_IP_PER_HOUR", Default: "60", Help: "Google and Facebook sign-ins and links one client (IPv4 address or IPv6 /64) may try per hour."},
	{Group: "Sign-in providers", Name: "GOOGLE_ISSUER_URL", Default: "https://accounts.google.com", Help: "Google OpenID issuer whose ID tokens are accepted."},
	{Group: "Sign-in providers", Name: "GOOGLE_CLIENT_IDS", Default: "", Help: "Comma list of OAuth client IDs accepted as the ID token audience."},
	{Group: "Sign-in providers", Name: "GOOGLE_JWKS_MIN_REFRESH", Default: "30s", Help: "Least time between two fetches of Google's signing keys, however many unknown key ids arrive."},
	{Group: "Sign-in providers", Name: "FACEBOOK_GRAPH_URL", Default: "https://graph.facebook.com/v19.0", Help: "Facebook Graph API base URL."},
	{Group: "Sign-in providers", Name: "FACEBOOK_APP_ID", Default: "", Help: "Facebook app ID that access tokens must belong to."},
	{Group: "Sign-in providers", Name: "FACEBOOK_APP_SECRET", Default: "", Secret: true, Help: "Facebook app secret, used to inspect access tokens."},
}

// Keys lists every configuration key with its default and meaning, in .env.example order.
func Keys() []Key {
	return append([]Key(nil), keys...)
}

// EnvExample renders .env.example from Keys: every key with its default, secrets left empty.
func EnvExample() string {
	var b strings.Builder
	b.WriteString("# Agency platform configuration. Generated from config.Keys();\n")
	b.WriteString("# regenerate with: go test ./config -run TestEnvExample -update\n")
	b.WriteString("# Priority: defaults < agency.yaml (same keys in lower case) < .env < environment.\n")
	group := ""
	for _, k := range keys {
		if k.Group != group {
			group = k.Group
			b.WriteString("\n# --- " + group + " ---\n")
		}
		value := k.Default
		if k.Secret {
			value = ""
		}
		b.WriteString("# " + k.Help + "\n")
		b.WriteString(k.Name + "=" + value + "\n")
	}
	return b.String()
}

// secretKey reports whether the named key holds a secret whose value must never be echoed.
func secretKey(name string) bool {
	for _, k := range keys {
		if k.Name == name {
			return k.Secret
		}
	}
	return false
}
