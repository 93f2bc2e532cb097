// Package config loads the typed application configuration from defaults, an optional config
// file, an optional .env file and the environment, and validates it.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strings"
	"time"

	"github.com/joho/godotenv"
	"github.com/spf13/viper"
)

// OTPLength is the number of digits in a one-time password; it is fixed, not configurable.
const OTPLength = 6

// defaultConfigFile is read from the working directory when no config file is named.
const defaultConfigFile = "agency.yaml"

// Config is the whole application configuration. main reads it once and hands each service
// only the sub-struct it needs.
//
// Every field is tagged with its key in lower case; sub-structs are squashed so that the
// config file stays flat, like the environment.
type Config struct {
	// AppEnv is "development" or "production".
	AppEnv string `mapstructure:"app_env"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `mapstructure:"log_level"`
	// LogFormat is text or json.
	LogFormat string `mapstructure:"log_format"`
	// ProviderTimeout bounds one call to Google or Facebook.
	ProviderTimeout time.Duration `mapstructure:"provider_timeout"`
	// ProviderSignInsPerIPPerHour bounds Google and Facebook sign-ins and
	// links per client: each may cost a call to the provider.
	ProviderSignInsPerIPPerHour int `mapstructure:"provider_signins_per_ip_per_hour"`

	HTTP     HTTPConfig     `mapstructure:",squash"`
	DB       DBConfig       `mapstructure:",squash"`
	Cleanup  CleanupConfig  `mapstructure:",squash"`
	Webhook  WebhookConfig  `mapstructure:",squash"`
	OTP      OTPConfig      `mapstructure:",squash"`
	SMS      SMSConfig      `mapstructure:",squash"`
	JWT      JWTConfig      `mapstructure:",squash"`
	Sessions SessionConfig  `mapstructure:",squash"`
	Google   GoogleConfig   `mapstructure:",squash"`
	Facebook FacebookConfig `mapstructure:",squash"`
	UI       UIConfig       `mapstructure:",squash"`
}

// HTTPConfig configures the HTTP server.
type HTTPConfig struct {
	// Addr is the listen address, host:port.
	Addr string `mapstructure:"http_addr"`
	// TrustedProxies are CIDRs or bare IPs whose X-Forwarded-For header is believed.
	TrustedProxies []string `mapstructure:"trusted_proxies"`
	// ShutdownTimeout is how long requests in flight get to finish on SIGTERM.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout"`
	// MetricsAddr is the host:port of the separate Prometheus listener; empty turns it off.
	MetricsAddr string `mapstructure:"metrics_addr"`
	// PprofAddr is the loopback host:port of the Go profiler (net/http/pprof); empty turns it off.
	PprofAddr string `mapstructure:"pprof_addr"`
	// CORSAllowedOrigins are the browser origins (scheme://host[:port]) allowed to call the API;
	// "*" allows any and is refused in production.
	CORSAllowedOrigins []string `mapstructure:"cors_allowed_origins"`
}

// DBConfig configures the database connection pool.
type DBConfig struct {
	// URL is a postgres:// URL; empty selects the embedded SQLite database. It may hold a password.
	URL string `mapstructure:"database_url"`
	// MigrationURL is where migrations are applied; empty means URL. It may hold a password.
	MigrationURL string `mapstructure:"migration_database_url"`
	// SQLitePath is the SQLite file used when URL is empty.
	SQLitePath      string        `mapstructure:"sqlite_path"`
	MaxOpenConns    int           `mapstructure:"db_max_open_conns"`
	MaxIdleConns    int           `mapstructure:"db_max_idle_conns"`
	ConnMaxIdleTime time.Duration `mapstructure:"db_conn_max_idle_time"`
	ConnMaxLifetime time.Duration `mapstructure:"db_conn_max_lifetime"`
	// ConnectTimeout bounds the wait for the database at startup.
	ConnectTimeout time.Duration `mapstructure:"db_connect_timeout"`
	// QueryTimeout bounds the database time of a request, all its
	// statements and transactions together (per statement in background
	// jobs): a stalled database answers 503 after it.
	QueryTimeout time.Duration `mapstructure:"db_query_timeout"`
	// PreparedStatements prepares each statement once per connection
	// (PostgreSQL): "true", "false", or "auto" (on unless a transaction
	// pooler is found at startup; see Prepared).
	PreparedStatements string `mapstructure:"db_prepared_statements"`
	// MigrateOnStart applies pending migrations before serving.
	MigrateOnStart bool `mapstructure:"migrate_on_start"`
}

// Prepared reports whether statements are to be prepared, given whether a
// transaction pooler was found between the service and PostgreSQL.
func (d DBConfig) Prepared(pooled bool) bool {
	return d.PreparedStatements == "true" || d.PreparedStatements == "auto" && !pooled
}

// MigrationTarget is the URL migrations are applied on: MigrationURL, else URL.
func (d DBConfig) MigrationTarget() string {
	if d.MigrationURL != "" {
		return d.MigrationURL
	}
	return d.URL
}

// Dialect returns the Ent dialect name for the configured database: "postgres" or "sqlite3".
func (d DBConfig) Dialect() string {
	if d.URL != "" {
		return "postgres"
	}
	return "sqlite3"
}

// CleanupConfig configures the background job that purges expired rows.
type CleanupConfig struct {
	// Interval between runs; 0 disables the job.
	Interval time.Duration `mapstructure:"cleanup_interval"`
	// AuditRetention is how long audit rows are kept.
	AuditRetention time.Duration `mapstructure:"audit_retention"`
}

// WebhookConfig configures the event webhooks.
type WebhookConfig struct {
	// URL receives the events; empty turns webhooks off.
	URL string `mapstructure:"webhook_url"`
	// Secret is whsec_ + base64 of the HMAC key.
	Secret      string        `mapstructure:"webhook_secret"`
	Timeout     time.Duration `mapstructure:"webhook_timeout"`
	MaxAttempts int           `mapstructure:"webhook_max_attempts"`
	// Retention is how long delivered and failed events are kept.
	Retention time.Duration `mapstructure:"webhook_retention"`
}

// webhookSecretPrefix starts a Standard Webhooks secret.
const webhookSecretPrefix = "whsec_"

// SecretKey is the HMAC key WEBHOOK_SECRET holds (nil when it is not valid).
func (w WebhookConfig) SecretKey() []byte {
	raw, ok := strings.CutPrefix(w.Secret, webhookSecretPrefix)
	if !ok {
		return nil
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil
	}
	return key
}

// OTPConfig configures one-time password issuance and the limits that stop abuse.
type OTPConfig struct {
	// Secret is the server key used to hash codes at rest.
	Secret               string        `mapstructure:"otp_secret"`
	TTL                  time.Duration `mapstructure:"otp_ttl"`
	ResendCooldown       time.Duration `mapstructure:"otp_resend_cooldown"`
	MaxSendsPerHour      int           `mapstructure:"otp_max_sends_per_hour"`
	MaxSendsPerIPPerHour int           `mapstructure:"otp_max_sends_per_ip_per_hour"`
	// MaxAttempts is the number of wrong guesses one code survives.
	MaxAttempts int `mapstructure:"otp_max_attempts"`
	// MaxFailuresPerDay is the number of wrong guesses one phone survives per day.
	MaxFailuresPerDay int `mapstructure:"otp_max_failures_per_day"`
	// MaxVerifyFailuresPerIPPerHour is the number of wrong guesses one client may make per hour.
	MaxVerifyFailuresPerIPPerHour int `mapstructure:"otp_max_verify_failures_per_ip_per_hour"`
}

// SMSConfig configures how one-time passwords are delivered.
type SMSConfig struct {
	// Provider is log, webhook or twilio.
	Provider   string        `mapstructure:"sms_provider"`
	WebhookURL string        `mapstructure:"sms_webhook_url"`
	Timeout    time.Duration `mapstructure:"sms_timeout"`
	// AllowedCountries are upper-case ISO 3166 alpha-2 regions; empty allows all.
	AllowedCountries []string `mapstructure:"sms_allowed_countries"`
	// TestOTPs maps a phone number (+E.164) to a fixed code; no SMS is sent to these numbers.
	TestOTPs map[string]string `mapstructure:"sms_test_otps"`
	Twilio   TwilioConfig      `mapstructure:",squash"`
}

// TwilioConfig holds the Twilio credentials used when SMSConfig.Provider is "twilio".
type TwilioConfig struct {
	AccountSID string `mapstructure:"twilio_account_sid"`
	AuthToken  string `mapstructure:"twilio_auth_token"`
	From       string `mapstructure:"twilio_from"`
	// BaseURL is the API root, replaced by a fake server in tests.
	BaseURL string `mapstructure:"twilio_base_url"`
}

// JWTConfig configures access token signing.
type JWTConfig struct {
	Issuer   string `mapstructure:"jwt_issuer"`
	Audience string `mapstructure:"jwt_audience"`
	// Algorithm is ES256 (signs with PrivateKey) or HS256 (signs with Secret).
	Algorithm string `mapstructure:"jwt_algorithm"`
	// PrivateKey is PEM text or a path to a PEM file, kept raw; the token service resolves it.
	PrivateKey     string        `mapstructure:"jwt_private_key"`
	Secret         string        `mapstructure:"jwt_secret"`
	AccessTokenTTL time.Duration `mapstructure:"access_token_ttl"`
}

// SessionConfig configures refresh tokens and device sessions.
type SessionConfig struct {
	RefreshTokenTTL time.Duration `mapstructure:"refresh_token_ttl"`
	// MaxAge is the absolute session lifetime, however often it is refreshed.
	MaxAge time.Duration `mapstructure:"session_max_age"`
	// RefreshReuseGrace tolerates a replay of a just-rotated token by concurrent requests.
	RefreshReuseGrace time.Duration `mapstructure:"refresh_reuse_grace"`
	// RefreshTokenSecret is the server key used to derive and hash rotated refresh tokens.
	RefreshTokenSecret string `mapstructure:"refresh_token_secret"`
	// MaxPerUser is the number of signed-in devices; the oldest session is evicted beyond it.
	MaxPerUser int `mapstructure:"max_sessions_per_user"`
}

// GoogleConfig configures sign-in with Google ID tokens.
type GoogleConfig struct {
	IssuerURL string `mapstructure:"google_issuer_url"`
	// ClientIDs are the accepted ID token audiences.
	ClientIDs []string `mapstructure:"google_client_ids"`
	// JWKSMinRefresh is the least time between two fetches of Google's keys.
	JWKSMinRefresh time.Duration `mapstructure:"google_jwks_min_refresh"`
}

// FacebookConfig configures sign-in with Facebook access tokens.
type FacebookConfig struct {
	GraphURL  string `mapstructure:"facebook_graph_url"`
	AppID     string `mapstructure:"facebook_app_id"`
	AppSecret string `mapstructure:"facebook_app_secret"`
}

// UIConfig switches the pages served beside the API. Each is "true", "false"
// or empty; empty means on in development and off in production (see
// Config.SchemaUI and friends).
type UIConfig struct {
	Schema  string `mapstructure:"schema_ui"`
	Docs    string `mapstructure:"docs_ui"`
	Console string `mapstructure:"console_ui"`
}

// SchemaUI reports whether GET /schema serves the schema diagram.
func (c *Config) SchemaUI() bool { return c.uiOn(c.UI.Schema) }

// DocsUI reports whether GET /docs serves the API reference.
func (c *Config) DocsUI() bool { return c.uiOn(c.UI.Docs) }

// ConsoleUI reports whether GET /console serves the sign-in console.
func (c *Config) ConsoleUI() bool { return c.uiOn(c.UI.Console) }

// uiOn resolves one page switch: explicit true/false win, empty follows APP_ENV.
func (c *Config) uiOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	return !c.IsProduction()
}

// TrustsAnyAddress reports whether TRUSTED_PROXIES covers every address
// (0.0.0.0/0 or ::/0): then any client can choose the IP its limits see.
func (h HTTPConfig) TrustsAnyAddress() bool {
	for _, proxy := range h.TrustedProxies {
		if _, n, err := net.ParseCIDR(proxy); err == nil {
			if ones, _ := n.Mask.Size(); ones == 0 {
				return true
			}
		}
	}
	return false
}

// IsProduction reports whether the application runs in production.
func (c *Config) IsProduction() bool { return c.AppEnv == "production" }

// Load reads configuration in rising priority: defaults, an optional config file, .env (if
// present in the working directory), environment variables.
//
// env is the process environment as "KEY=value" entries (os.Environ() in main); Load never
// reads the process environment itself. An empty value counts as unset, as in viper. configFile
// is "" to read ./agency.yaml if it exists, or a path that must exist.
func Load(env []string, configFile string) (*Config, error) {
	v := viper.New()
	for _, k := range keys {
		v.SetDefault(k.viperKey(), k.Default)
	}
	if err := readConfigFile(v, configFile); err != nil {
		return nil, err
	}
	overrides, err := readDotEnv()
	if err != nil {
		return nil, err
	}
	for name, value := range ParseEnv(env) {
		overrides[name] = value
	}
	// Set ranks above the config file in viper, so .env and the environment win over it.
	for _, k := range keys {
		if value := overrides[k.Name]; value != "" {
			v.Set(k.viperKey(), value)
		}
	}

	var cfg Config
	if err := v.Unmarshal(&cfg, viper.DecodeHook(decodeText), rejectUnknownKeys); err != nil {
		return nil, decodeErrors(err)
	}
	cfg.normalize()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// readConfigFile reads the named file, or ./agency.yaml when it exists and none is named.
func readConfigFile(v *viper.Viper, path string) error {
	if path == "" {
		if _, err := os.Stat(defaultConfigFile); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		path = defaultConfigFile
	}
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("config: read config file %q: %w", path, err)
	}
	return nil
}

// readDotEnv returns the variables in ./.env, or none if it does not exist.
func readDotEnv() (map[string]string, error) {
	vars, err := godotenv.Read(".env")
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		return nil, fmt.Errorf("config: read .env: %w", err)
	}
	if err != nil {
		// The parser quotes the offending text, which may be a secret, so its message is dropped.
		return nil, errors.New("config: .env: malformed file (check quoting and KEY=value syntax)")
	}
	return vars, nil
}

// ParseEnv turns "KEY=value" entries into a map; a later entry wins, as in os/exec.
func ParseEnv(env []string) map[string]string {
	vars := make(map[string]string, len(env))
	for _, entry := range env {
		name, value, ok := strings.Cut(entry, "=")
		if ok && name != "" {
			vars[name] = value
		}
	}
	return vars
}

// normalize puts list values into canonical form before validation.
func (c *Config) normalize() {
	if c.LogFormat == "" {
		c.LogFormat = "text"
		if c.IsProduction() {
			c.LogFormat = "json"
		}
	}
	for i, code := range c.SMS.AllowedCountries {
		c.SMS.AllowedCountries[i] = strings.ToUpper(code)
	}
}
