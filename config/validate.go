package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// minHMACSecretBytes is the shortest HMAC key accepted (HS256, OTP_SECRET,
// REFRESH_TOKEN_SECRET): the size of the SHA-256 output.
const minHMACSecretBytes = 32

// minCleanupInterval is the shortest cleanup interval: the job deletes
// whole tables' expired rows, so running it more often only costs.
const minCleanupInterval = time.Second

// maxE164Digits is the longest phone number E.164 allows.
const maxE164Digits = 15

// Validate checks every value and reports all problems at once, one line each, as
// "config: KEY: problem". Messages never quote a secret. Load calls it.
func (c *Config) Validate() error {
	var p problems
	p.oneOf("APP_ENV", c.AppEnv, "development", "production")
	p.oneOf("LOG_LEVEL", c.LogLevel, "debug", "info", "warn", "error")
	p.oneOf("LOG_FORMAT", c.LogFormat, "text", "json")
	p.positive("PROVIDER_TIMEOUT", c.ProviderTimeout)
	p.atLeast("PROVIDER_SIGNINS_PER_IP_PER_HOUR", c.ProviderSignInsPerIPPerHour, 1)
	p.positive("GOOGLE_JWKS_MIN_REFRESH", c.Google.JWKSMinRefresh)
	c.HTTP.validate(&p)
	c.UI.validate(&p)
	c.DB.validate(&p)
	p.nonNegative("CLEANUP_INTERVAL", c.Cleanup.Interval)
	if c.Cleanup.Interval > 0 && c.Cleanup.Interval < minCleanupInterval {
		p.add("CLEANUP_INTERVAL", "must be 0 (off) or at least %s, got %s", minCleanupInterval, c.Cleanup.Interval)
	}
	p.positive("AUDIT_RETENTION", c.Cleanup.AuditRetention)
	c.Webhook.validate(&p)
	p.secretSize("OTP_SECRET", c.OTP.Secret)
	p.secretSize("REFRESH_TOKEN_SECRET", c.Sessions.RefreshTokenSecret)
	c.OTP.validate(&p)
	c.SMS.validate(&p)
	c.JWT.validate(&p)
	c.Sessions.validate(&p)
	p.httpURL("GOOGLE_ISSUER_URL", c.Google.IssuerURL, true)
	p.httpURL("FACEBOOK_GRAPH_URL", c.Facebook.GraphURL, true)
	if c.IsProduction() {
		c.validateProduction(&p)
	}
	return errors.Join(p...)
}

// validateProduction refuses what is only acceptable in development: the
// log SMS sender and secrets that dev mode would generate.
func (c *Config) validateProduction(p *problems) {
	if slices.Contains(c.HTTP.CORSAllowedOrigins, "*") {
		p.add("CORS_ALLOWED_ORIGINS", "* (any origin) is refused in production; list the apps' origins")
	}
	if c.SMS.Provider == "log" {
		p.add("SMS_PROVIDER", "the log sender prints codes and is refused in production; use webhook or twilio")
	}
	if c.OTP.Secret == "" {
		p.add("OTP_SECRET", "is required in production")
	}
	if c.Sessions.RefreshTokenSecret == "" {
		p.add("REFRESH_TOKEN_SECRET", "is required in production")
	}
	switch {
	case c.JWT.Algorithm == "ES256" && c.JWT.PrivateKey == "":
		p.add("JWT_PRIVATE_KEY", "is required in production with ES256")
	case c.JWT.Algorithm == "HS256" && c.JWT.Secret == "":
		p.add("JWT_SECRET", "is required in production with HS256")
	}
}

func (h HTTPConfig) validate(p *problems) {
	p.positive("SHUTDOWN_TIMEOUT", h.ShutdownTimeout)
	_, port, err := net.SplitHostPort(h.Addr)
	if n, convErr := strconv.Atoi(port); err != nil || convErr != nil || n < 0 || n > 65535 {
		p.add("HTTP_ADDR", "must be host:port, e.g. \":8080\", got %q", h.Addr)
	}
	if h.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(h.MetricsAddr)
		if n, convErr := strconv.Atoi(port); err != nil || convErr != nil || n < 0 || n > 65535 {
			p.add("METRICS_ADDR", "must be host:port, e.g. \"127.0.0.1:9090\", or empty, got %q", h.MetricsAddr)
		} else if h.MetricsAddr == h.Addr {
			p.add("METRICS_ADDR", "must differ from HTTP_ADDR: metrics are never served on the public port")
		}
	}
	if h.PprofAddr != "" {
		host, port, err := net.SplitHostPort(h.PprofAddr)
		ip := net.ParseIP(host)
		switch n, convErr := strconv.Atoi(port); {
		case err != nil || convErr != nil || n < 0 || n > 65535:
			p.add("PPROF_ADDR", "must be host:port, e.g. \"127.0.0.1:6060\", or empty, got %q", h.PprofAddr)
		case host != "localhost" && (ip == nil || !ip.IsLoopback()):
			p.add("PPROF_ADDR", "must be a loopback address (127.0.0.1, ::1 or localhost): the profiler shows memory and must never be public, got %q", h.PprofAddr)
		case h.PprofAddr == h.Addr || h.PprofAddr == h.MetricsAddr:
			p.add("PPROF_ADDR", "must differ from HTTP_ADDR and METRICS_ADDR")
		}
	}
	for _, origin := range h.CORSAllowedOrigins {
		if origin != "*" && !isOrigin(origin) {
			p.add("CORS_ALLOWED_ORIGINS", "%q is not an origin (scheme://host[:port], no path)", origin)
		}
	}
	for _, proxy := range h.TrustedProxies {
		if _, _, err := net.ParseCIDR(proxy); err == nil || net.ParseIP(proxy) != nil {
			continue
		}
		p.add("TRUSTED_PROXIES", "%q is neither a CIDR nor an IP address", proxy)
	}
}

// isOrigin reports whether s is a browser origin as an Origin header
// carries it: http(s)://host[:port], nothing after.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.Opaque == "" &&
		s == u.Scheme+"://"+u.Host
}

func (u UIConfig) validate(p *problems) {
	for _, k := range [][2]string{{"SCHEMA_UI", u.Schema}, {"DOCS_UI", u.Docs}, {"CONSOLE_UI", u.Console}} {
		switch strings.ToLower(strings.TrimSpace(k[1])) {
		case "", "true", "false", "1", "0":
		default:
			p.add(k[0], "must be true, false or empty (on in development, off in production), got %q", k[1])
		}
	}
}

func (d DBConfig) validate(p *problems) {
	if d.URL != "" {
		// The URL is never quoted: it may hold a password.
		if !strings.HasPrefix(d.URL, "postgres://") && !strings.HasPrefix(d.URL, "postgresql://") {
			p.add("DATABASE_URL", "must be a postgres:// URL")
		} else if u, err := url.Parse(d.URL); err != nil || u.Host == "" {
			p.add("DATABASE_URL", "must be a valid postgres:// URL with a host")
		}
	} else if d.SQLitePath == "" {
		p.add("SQLITE_PATH", "must be set when DATABASE_URL is empty")
	}
	if d.MigrationURL != "" {
		if d.URL == "" {
			p.add("MIGRATION_DATABASE_URL", "needs DATABASE_URL (the embedded SQLite database is migrated in place)")
		} else if u, err := url.Parse(d.MigrationURL); err != nil || u.Host == "" ||
			!strings.HasPrefix(d.MigrationURL, "postgres://") && !strings.HasPrefix(d.MigrationURL, "postgresql://") {
			p.add("MIGRATION_DATABASE_URL", "must be a valid postgres:// URL with a host")
		}
	}
	p.oneOf("DB_PREPARED_STATEMENTS", d.PreparedStatements, "auto", "true", "false")
	p.atLeast("DB_MAX_OPEN_CONNS", d.MaxOpenConns, 1)
	p.atLeast("DB_MAX_IDLE_CONNS", d.MaxIdleConns, 0)
	if d.MaxIdleConns > d.MaxOpenConns && d.MaxOpenConns >= 1 {
		p.add("DB_MAX_IDLE_CONNS", "must be <= DB_MAX_OPEN_CONNS (%d), got %d", d.MaxOpenConns, d.MaxIdleConns)
	}
	p.nonNegative("DB_CONN_MAX_IDLE_TIME", d.ConnMaxIdleTime)
	p.nonNegative("DB_CONN_MAX_LIFETIME", d.ConnMaxLifetime)
	p.positive("DB_CONNECT_TIMEOUT", d.ConnectTimeout)
	p.positive("DB_QUERY_TIMEOUT", d.QueryTimeout)
}

func (o OTPConfig) validate(p *problems) {
	p.positive("OTP_TTL", o.TTL)
	p.nonNegative("OTP_RESEND_COOLDOWN", o.ResendCooldown)
	p.atLeast("OTP_MAX_SENDS_PER_HOUR", o.MaxSendsPerHour, 1)
	p.atLeast("OTP_MAX_SENDS_PER_IP_PER_HOUR", o.MaxSendsPerIPPerHour, 1)
	p.atLeast("OTP_MAX_ATTEMPTS", o.MaxAttempts, 1)
	p.atLeast("OTP_MAX_FAILURES_PER_DAY", o.MaxFailuresPerDay, 1)
	p.atLeast("OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR", o.MaxVerifyFailuresPerIPPerHour, 1)
}

func (w WebhookConfig) validate(p *problems) {
	p.httpURL("WEBHOOK_URL", w.URL, false)
	p.positive("WEBHOOK_TIMEOUT", w.Timeout)
	p.atLeast("WEBHOOK_MAX_ATTEMPTS", w.MaxAttempts, 1)
	p.positive("WEBHOOK_RETENTION", w.Retention)
	if w.URL == "" && w.Secret == "" {
		return
	}
	if n := len(w.SecretKey()); n < 24 || n > 64 {
		p.add("WEBHOOK_SECRET", "must be whsec_ and the base64 of 24 to 64 random bytes (required with WEBHOOK_URL)")
	}
}

func (s SMSConfig) validate(p *problems) {
	p.oneOf("SMS_PROVIDER", s.Provider, "log", "webhook", "twilio")
	p.httpURL("SMS_WEBHOOK_URL", s.WebhookURL, false)
	p.positive("SMS_TIMEOUT", s.Timeout)
	for _, region := range s.AllowedCountries {
		if len(region) != 2 || !isAll(region, func(r rune) bool { return r >= 'A' && r <= 'Z' }) {
			p.add("SMS_ALLOWED_COUNTRIES", "%q is not an ISO 3166 alpha-2 region code", region)
		}
	}
	numbers := make([]string, 0, len(s.TestOTPs))
	for number := range s.TestOTPs {
		numbers = append(numbers, number)
	}
	sort.Strings(numbers)
	isDigit := func(r rune) bool { return r >= '0' && r <= '9' }
	for _, number := range numbers {
		digits, ok := strings.CutPrefix(number, "+")
		if !ok || digits == "" || len(digits) > maxE164Digits || !isAll(digits, isDigit) {
			p.add("SMS_TEST_OTPS", "number %q must be + followed by up to %d digits", number, maxE164Digits)
		}
		// The code itself is never quoted: it signs a test account in.
		if code := s.TestOTPs[number]; len(code) != OTPLength || !isAll(code, isDigit) {
			p.add("SMS_TEST_OTPS", "code for %s must be exactly %d digits", number, OTPLength)
		}
	}
	p.httpURL("TWILIO_BASE_URL", s.Twilio.BaseURL, true)
	switch s.Provider {
	case "webhook":
		p.nonEmpty("SMS_WEBHOOK_URL", s.WebhookURL)
	case "twilio":
		p.nonEmpty("TWILIO_ACCOUNT_SID", s.Twilio.AccountSID)
		p.nonEmpty("TWILIO_AUTH_TOKEN", s.Twilio.AuthToken)
		p.nonEmpty("TWILIO_FROM", s.Twilio.From)
	}
}

func (j JWTConfig) validate(p *problems) {
	p.nonEmpty("JWT_ISSUER", j.Issuer)
	p.nonEmpty("JWT_AUDIENCE", j.Audience)
	p.oneOf("JWT_ALGORITHM", j.Algorithm, "ES256", "HS256")
	if j.Algorithm == "HS256" {
		p.secretSize("JWT_SECRET", j.Secret)
	}
	p.positive("ACCESS_TOKEN_TTL", j.AccessTokenTTL)
}

func (s SessionConfig) validate(p *problems) {
	p.positive("REFRESH_TOKEN_TTL", s.RefreshTokenTTL)
	p.positive("SESSION_MAX_AGE", s.MaxAge)
	p.nonNegative("REFRESH_REUSE_GRACE", s.RefreshReuseGrace)
	p.atLeast("MAX_SESSIONS_PER_USER", s.MaxPerUser, 1)
}

// problems collects validation failures, each naming its key.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
}

func (p *problems) oneOf(key, got string, allowed ...string) {
	if !slices.Contains(allowed, got) {
		p.add(key, "must be one of %s, got %q", strings.Join(allowed, ", "), got)
	}
}

// secretSize refuses a set HMAC key shorter than minHMACSecretBytes.
func (p *problems) secretSize(key, secret string) {
	if secret != "" && len(secret) < minHMACSecretBytes {
		p.add(key, "must be at least %d bytes", minHMACSecretBytes)
	}
}

func (p *problems) nonEmpty(key, got string) {
	if got == "" {
		p.add(key, "must not be empty")
	}
}

func (p *problems) atLeast(key string, got, minimum int) {
	if got < minimum {
		p.add(key, "must be >= %d, got %d", minimum, got)
	}
}

func (p *problems) positive(key string, got time.Duration) {
	if got <= 0 {
		p.add(key, "must be > 0, got %s", got)
	}
}

func (p *problems) nonNegative(key string, got time.Duration) {
	if got < 0 {
		p.add(key, "must be >= 0, got %s", got)
	}
}

// httpURL checks an absolute http(s) URL. The value is not quoted: a webhook URL may carry a
// token.
func (p *problems) httpURL(key, raw string, required bool) {
	if raw == "" && !required {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "must be an absolute http:// or https:// URL")
	}
}

// isAll reports whether every rune of s satisfies ok.
func isAll(s string, ok func(rune) bool) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !ok(r) }) == -1
}
