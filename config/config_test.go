package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// wantDefaults is the configuration Load must produce with no file and an empty environment,
// spelt out independently of the Keys table.
func wantDefaults() *Config {
	return &Config{
		AppEnv:          "development",
		LogLevel:        "info",
		LogFormat:       "text",
		ProviderTimeout: 5 * time.Second,
		// Provider sign-ins per client per hour.
		ProviderSignInsPerIPPerHour: 60,
		HTTP:                        HTTPConfig{Addr: ":8080", ShutdownTimeout: 15 * time.Second},
		DB: DBConfig{
			SQLitePath:         "./data/agency.db",
			MaxOpenConns:       10,
			MaxIdleConns:       10,
			ConnMaxIdleTime:    20 * time.Second,
			ConnMaxLifetime:    30 * time.Minute,
			ConnectTimeout:     10 * time.Second,
			QueryTimeout:       3 * time.Second,
			PreparedStatements: "auto",
			MigrateOnStart:     true,
		},
		Cleanup: CleanupConfig{Interval: 10 * time.Minute, AuditRetention: 400 * 24 * time.Hour},
		Webhook: WebhookConfig{Timeout: 5 * time.Second, MaxAttempts: 12, Retention: 30 * 24 * time.Hour},
		OTP: OTPConfig{
			TTL:                  5 * time.Minute,
			ResendCooldown:       60 * time.Second,
			MaxSendsPerHour:      5,
			MaxSendsPerIPPerHour: 30,
			MaxAttempts:          5,
			MaxFailuresPerDay:    20,
			// One client's wrong codes per hour.
			MaxVerifyFailuresPerIPPerHour: 30,
		},
		SMS: SMSConfig{
			Provider: "log",
			Timeout:  5 * time.Second,
			Twilio:   TwilioConfig{BaseURL: "https://api.twilio.com"},
		},
		JWT: JWTConfig{
			Issuer:         "agency-platform",
			Audience:       "agency-platform",
			Algorithm:      "ES256",
			AccessTokenTTL: 15 * time.Minute,
		},
		Sessions: SessionConfig{
			RefreshTokenTTL:   720 * time.Hour,
			MaxAge:            2160 * time.Hour,
			RefreshReuseGrace: 10 * time.Second,
			MaxPerUser:        5,
		},
		Google:   GoogleConfig{IssuerURL: "https://accounts.google.com", JWKSMinRefresh: 30 * time.Second},
		Facebook: FacebookConfig{GraphURL: "https://graph.facebook.com/v19.0"},
	}
}

// inTempDir makes a fresh working directory holding files (path → content), so Load sees
// only the .env and agency.yaml a test wrote.
func inTempDir(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		files      map[string]string
		configFile string
		want       func(c *Config) // edits wantDefaults() into the expected result
	}{
		{name: "defaults", want: func(*Config) {}},
		{
			name: "env_overrides",
			env: []string{
				"APP_ENV=production",
				"DATABASE_URL=postgres://u:p@db:5432/agency?sslmode=disable",
				"DB_MAX_OPEN_CONNS=20",
				"MIGRATE_ON_START=0",
				"CLEANUP_INTERVAL=0",
				"AUDIT_RETENTION=90d",
				"WEBHOOK_URL=https://hooks.example.com/agency",
				"WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
				"ACCESS_TOKEN_TTL=1h30m",
				"SMS_ALLOWED_COUNTRIES= in, US ,",
				"SMS_TEST_OTPS=+15555550100=123456, +15555550101=654321",
				"TRUSTED_PROXIES=10.0.0.0/8,127.0.0.1",
				"GOOGLE_CLIENT_IDS=a.apps.googleusercontent.com,b.apps.googleusercontent.com",
				"JWT_ALGORITHM=HS256",
				"JWT_SECRET=0123456789abcdef0123456789abcdef",
				"SMS_PROVIDER=webhook",
				"SMS_WEBHOOK_URL=https://sms.example.com/send",
				"OTP_SECRET=otp-secret-otp-secret-otp-secret",
				"REFRESH_TOKEN_SECRET=refresh-secret-refresh-secret-xx",
				"METRICS_ADDR=127.0.0.1:9090",
				"CORS_ALLOWED_ORIGINS=https://app.example.com, http://localhost:3000",
				"SCHEMA_UI=true",
				"DOCS_UI=false",
			},
			want: func(c *Config) {
				c.AppEnv = "production"
				c.LogFormat = "json" // the production default
				c.SMS.Provider = "webhook"
				c.SMS.WebhookURL = "https://sms.example.com/send"
				c.OTP.Secret = "otp-secret-otp-secret-otp-secret"
				c.Sessions.RefreshTokenSecret = "refresh-secret-refresh-secret-xx"
				c.DB.URL = "postgres://u:p@db:5432/agency?sslmode=disable"
				c.DB.MaxOpenConns = 20
				c.DB.MigrateOnStart = false
				c.Cleanup.Interval = 0
				c.Cleanup.AuditRetention = 90 * 24 * time.Hour
				c.Webhook.URL = "https://hooks.example.com/agency"
				c.Webhook.Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
				c.JWT.AccessTokenTTL = 90 * time.Minute
				c.SMS.AllowedCountries = []string{"IN", "US"}
				c.SMS.TestOTPs = map[string]string{"+15555550100": "123456", "+15555550101": "654321"}
				c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "127.0.0.1"}
				c.Google.ClientIDs = []string{"a.apps.googleusercontent.com", "b.apps.googleusercontent.com"}
				c.JWT.Algorithm = "HS256"
				c.JWT.Secret = "0123456789abcdef0123456789abcdef"
				c.HTTP.MetricsAddr = "127.0.0.1:9090"
				c.HTTP.CORSAllowedOrigins = []string{"https://app.example.com", "http://localhost:3000"}
				c.UI = UIConfig{Schema: "true", Docs: "false"}
			},
		},
		{
			name: "unknown_and_empty_env_ignored",
			env:  []string{"PATH=/bin", "HTTP_ADDR=", "=C:=C:\\"},
			want: func(*Config) {},
		},
		{
			name: "last_env_entry_wins",
			env:  []string{"LOG_LEVEL=debug", "LOG_LEVEL=warn"},
			want: func(c *Config) { c.LogLevel = "warn" },
		},
		{
			name:  "dotenv_read",
			files: map[string]string{".env": "# local\nLOG_LEVEL=debug\nOTP_TTL=\"2m\"\n"},
			want:  func(c *Config) { c.LogLevel = "debug"; c.OTP.TTL = 2 * time.Minute },
		},
		{
			name:  "env_beats_dotenv",
			env:   []string{"LOG_LEVEL=error"},
			files: map[string]string{".env": "LOG_LEVEL=debug\nLOG_FORMAT=json\n"},
			want:  func(c *Config) { c.LogLevel = "error"; c.LogFormat = "json" },
		},
		{
			name:  "default_config_file",
			files: map[string]string{"agency.yaml": "http_addr: \":7000\"\ndb_max_open_conns: 3\ndb_max_idle_conns: 2\n"},
			want:  func(c *Config) { c.HTTP.Addr = ":7000"; c.DB.MaxOpenConns = 3; c.DB.MaxIdleConns = 2 },
		},
		{
			name: "explicit_config_file_replaces_default",
			files: map[string]string{
				"agency.yaml":       "log_level: debug\n",
				"etc/override.yaml": "log_format: json\n",
			},
			configFile: "etc/override.yaml",
			want:       func(c *Config) { c.LogFormat = "json" },
		},
		{
			name: "yaml_native_types",
			files: map[string]string{"agency.yaml": `
migrate_on_start: false
cleanup_interval: 0
otp_ttl: 3m
trusted_proxies: ["192.168.0.0/16", "::1"]
sms_allowed_countries: [gb]
sms_test_otps:
  "+447700900000": "111111"
`},
			want: func(c *Config) {
				c.DB.MigrateOnStart = false
				c.Cleanup.Interval = 0
				c.OTP.TTL = 3 * time.Minute
				c.HTTP.TrustedProxies = []string{"192.168.0.0/16", "::1"}
				c.SMS.AllowedCountries = []string{"GB"}
				c.SMS.TestOTPs = map[string]string{"+447700900000": "111111"}
			},
		},
		{
			name:  "env_and_dotenv_beat_config_file",
			env:   []string{"LOG_LEVEL=error"},
			files: map[string]string{"agency.yaml": "log_level: debug\nlog_format: json\nhttp_addr: \":1\"\n", ".env": "LOG_FORMAT=text\n"},
			want:  func(c *Config) { c.LogLevel = "error"; c.HTTP.Addr = ":1" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, tt.files)
			got, err := Load(tt.env, tt.configFile)
			if err != nil {
				t.Fatalf("Load: got error %v, want nil", err)
			}
			want := wantDefaults()
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Load:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestLoad_Errors(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		files      map[string]string
		configFile string
		wantErr    []string // substrings the error must contain
		hidden     []string // substrings it must not contain (besides every secret's value)
	}{
		{name: "bad_duration", env: []string{"ACCESS_TOKEN_TTL=abc"}, wantErr: []string{`config: ACCESS_TOKEN_TTL: invalid duration "abc"`}},
		{name: "negative_duration", env: []string{"CLEANUP_INTERVAL=-1m"}, wantErr: []string{"config: CLEANUP_INTERVAL: must be >= 0, got -1m0s"}},
		{name: "zero_ttl", env: []string{"OTP_TTL=0s"}, wantErr: []string{"config: OTP_TTL: must be > 0"}},
		{name: "bad_int", env: []string{"DB_MAX_OPEN_CONNS=ten"}, wantErr: []string{`config: DB_MAX_OPEN_CONNS: invalid integer "ten"`}},
		{name: "int_below_minimum", env: []string{"DB_MAX_OPEN_CONNS=0"}, wantErr: []string{"config: DB_MAX_OPEN_CONNS: must be >= 1, got 0"}},
		{name: "idle_above_open", env: []string{"DB_MAX_OPEN_CONNS=2"}, wantErr: []string{"config: DB_MAX_IDLE_CONNS: must be <= DB_MAX_OPEN_CONNS (2), got 10"}},
		{name: "bad_bool", env: []string{"MIGRATE_ON_START=yes"}, wantErr: []string{`config: MIGRATE_ON_START: invalid boolean "yes"`}},
		{name: "production_refuses_dev_defaults", env: []string{"APP_ENV=production"}, wantErr: []string{
			"config: SMS_PROVIDER: the log sender", "config: OTP_SECRET: is required in production",
			"config: REFRESH_TOKEN_SECRET: is required in production", "config: JWT_PRIVATE_KEY: is required in production"}},
		{name: "webhook_needs_url", env: []string{"SMS_PROVIDER=webhook"}, wantErr: []string{"config: SMS_WEBHOOK_URL:"}},
		{name: "twilio_needs_credentials", env: []string{"SMS_PROVIDER=twilio"}, wantErr: []string{
			"config: TWILIO_ACCOUNT_SID:", "config: TWILIO_AUTH_TOKEN:", "config: TWILIO_FROM:"}},
		{name: "bad_app_env", env: []string{"APP_ENV=staging"}, wantErr: []string{`config: APP_ENV: must be one of development, production, got "staging"`}},
		{name: "bad_log_level", env: []string{"LOG_LEVEL=trace"}, wantErr: []string{"config: LOG_LEVEL:"}},
		{name: "bad_log_format", env: []string{"LOG_FORMAT=xml"}, wantErr: []string{"config: LOG_FORMAT:"}},
		{name: "bad_sms_provider", env: []string{"SMS_PROVIDER=carrier-pigeon"}, wantErr: []string{"config: SMS_PROVIDER:"}},
		{name: "bad_jwt_algorithm", env: []string{"JWT_ALGORITHM=RS256"}, wantErr: []string{"config: JWT_ALGORITHM:"}},
		{name: "bad_http_addr", env: []string{"HTTP_ADDR=8080"}, wantErr: []string{"config: HTTP_ADDR:"}},
		{
			name:    "database_url_not_postgres",
			env:     []string{"DATABASE_URL=mysql://root:hunter2@db/agency"},
			wantErr: []string{"config: DATABASE_URL: must be a postgres:// URL"},
			hidden:  []string{"hunter2", "mysql"},
		},
		{
			name:    "database_url_without_host",
			env:     []string{"DATABASE_URL=postgres://:hunter2@/agency"},
			wantErr: []string{"config: DATABASE_URL:"},
			hidden:  []string{"hunter2"},
		},
		{name: "bad_prepared_statements", env: []string{"DB_PREPARED_STATEMENTS=sometimes"}, wantErr: []string{`config: DB_PREPARED_STATEMENTS: must be one of auto, true, false, got "sometimes"`}},
		{
			name:    "migration_url_without_database_url",
			env:     []string{"MIGRATION_DATABASE_URL=postgres://u:hunter2@db:5432/agency"},
			wantErr: []string{"config: MIGRATION_DATABASE_URL: needs DATABASE_URL"},
			hidden:  []string{"hunter2"},
		},
		{
			name:    "migration_url_not_postgres",
			env:     []string{"DATABASE_URL=postgres://u:p@pooler:6432/agency", "MIGRATION_DATABASE_URL=mysql://root:hunter2@db/agency"},
			wantErr: []string{"config: MIGRATION_DATABASE_URL: must be a valid postgres:// URL with a host"},
			hidden:  []string{"hunter2", "mysql"},
		},
		{name: "bad_metrics_addr", env: []string{"METRICS_ADDR=9090"}, wantErr: []string{`config: METRICS_ADDR: must be host:port`}},
		{name: "metrics_on_public_port", env: []string{"HTTP_ADDR=:8080", "METRICS_ADDR=:8080"}, wantErr: []string{"config: METRICS_ADDR: must differ from HTTP_ADDR"}},
		{name: "pprof_public", env: []string{"PPROF_ADDR=0.0.0.0:6060"}, wantErr: []string{`config: PPROF_ADDR: must be a loopback address`}},
		{name: "pprof_any_host", env: []string{"PPROF_ADDR=:6060"}, wantErr: []string{`config: PPROF_ADDR: must be a loopback address`}},
		{name: "pprof_no_port", env: []string{"PPROF_ADDR=127.0.0.1"}, wantErr: []string{`config: PPROF_ADDR: must be host:port`}},
		{name: "pprof_on_public_port", env: []string{"HTTP_ADDR=127.0.0.1:8080", "PPROF_ADDR=127.0.0.1:8080"}, wantErr: []string{"config: PPROF_ADDR: must differ"}},
		{name: "cors_origin_with_path", env: []string{"CORS_ALLOWED_ORIGINS=https://app.example.com/login"}, wantErr: []string{`config: CORS_ALLOWED_ORIGINS: "https://app.example.com/login" is not an origin`}},
		{name: "cors_origin_without_scheme", env: []string{"CORS_ALLOWED_ORIGINS=app.example.com"}, wantErr: []string{`config: CORS_ALLOWED_ORIGINS: "app.example.com" is not an origin`}},
		{name: "cors_any_in_production", env: []string{"APP_ENV=production", "CORS_ALLOWED_ORIGINS=*"}, wantErr: []string{"config: CORS_ALLOWED_ORIGINS: * (any origin) is refused in production"}},
		{name: "bad_ui_switch", env: []string{"DOCS_UI=maybe"}, wantErr: []string{`config: DOCS_UI: must be true, false or empty`}},
		{name: "bad_cidr", env: []string{"TRUSTED_PROXIES=10.0.0.0/8,10.0.0.0/33"}, wantErr: []string{`config: TRUSTED_PROXIES: "10.0.0.0/33"`}},
		{name: "bad_country", env: []string{"SMS_ALLOWED_COUNTRIES=IN,IND"}, wantErr: []string{`config: SMS_ALLOWED_COUNTRIES: "IND"`}},
		{name: "bad_webhook_url", env: []string{"SMS_WEBHOOK_URL=ftp://hooks.example/t0ken"}, wantErr: []string{"config: SMS_WEBHOOK_URL:"}, hidden: []string{"t0ken"}},
		{
			name:    "test_otp_short_code",
			env:     []string{"SMS_TEST_OTPS=+15555550100=98765"},
			wantErr: []string{"config: SMS_TEST_OTPS: code for +15555550100 must be exactly 6 digits"},
			hidden:  []string{"98765"},
		},
		{name: "test_otp_number_without_plus", env: []string{"SMS_TEST_OTPS=15555550100=123456"}, wantErr: []string{"config: SMS_TEST_OTPS:"}, hidden: []string{"123456"}},
		{name: "test_otp_malformed_entry", env: []string{"SMS_TEST_OTPS=+15555550100=123456,424242"}, wantErr: []string{"config: SMS_TEST_OTPS: entry 2"}, hidden: []string{"424242"}},
		{
			name:    "short_jwt_secret",
			env:     []string{"JWT_ALGORITHM=HS256", "JWT_SECRET=too-short-s3cret"},
			wantErr: []string{"config: JWT_SECRET: must be at least 32 bytes"},
		},
		{
			name: "short_secrets_in_production",
			env: []string{"APP_ENV=production", "SMS_PROVIDER=webhook", "SMS_WEBHOOK_URL=https://sms.example/hook",
				"OTP_SECRET=x", "REFRESH_TOKEN_SECRET=0123456789abcdef0123456789abcde", "JWT_ALGORITHM=HS256",
				"JWT_SECRET=0123456789abcdef0123456789abcdef"},
			wantErr: []string{"config: OTP_SECRET: must be at least 32 bytes", "config: REFRESH_TOKEN_SECRET: must be at least 32 bytes"},
		},
		{name: "webhook_url_without_secret", env: []string{"WEBHOOK_URL=https://hooks.example/agency"},
			wantErr: []string{"config: WEBHOOK_SECRET: must be whsec_ and the base64 of 24 to 64 random bytes (required with WEBHOOK_URL)"}},
		{name: "webhook_secret_without_prefix", env: []string{"WEBHOOK_URL=https://hooks.example/agency", "WEBHOOK_SECRET=MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
			wantErr: []string{"config: WEBHOOK_SECRET: must be whsec_ and the base64 of 24 to 64 random bytes (required with WEBHOOK_URL)"}},
		{name: "webhook_max_attempts_zero", env: []string{"WEBHOOK_MAX_ATTEMPTS=0"}, wantErr: []string{"config: WEBHOOK_MAX_ATTEMPTS: must be >= 1, got 0"}},
		{name: "audit_retention_not_a_duration", env: []string{"AUDIT_RETENTION=400 days"}, wantErr: []string{"AUDIT_RETENTION"}},
		{name: "cleanup_interval_below_a_second", env: []string{"CLEANUP_INTERVAL=1ns"}, wantErr: []string{"config: CLEANUP_INTERVAL: must be 0 (off) or at least 1s, got 1ns"}},
		{
			name:    "all_problems_reported",
			env:     []string{"DB_MAX_OPEN_CONNS=0", "MAX_SESSIONS_PER_USER=0", "REFRESH_TOKEN_SECRET=r3fresh-s3cret", "OTP_SECRET=0tp-s3cret"},
			wantErr: []string{"config: DB_MAX_OPEN_CONNS:", "config: MAX_SESSIONS_PER_USER: must be >= 1, got 0"},
		},
		{
			name:    "all_decode_errors_reported",
			env:     []string{"ACCESS_TOKEN_TTL=abc", "DB_MAX_OPEN_CONNS=x", "MIGRATE_ON_START=yes"},
			wantErr: []string{"config: ACCESS_TOKEN_TTL:", "config: DB_MAX_OPEN_CONNS:", "config: MIGRATE_ON_START:"},
		},
		{
			name:    "malformed_dotenv",
			files:   map[string]string{".env": "JWT_SECRET=\"unterminated-s3cret\n"},
			wantErr: []string{"config: .env:"},
			hidden:  []string{"unterminated-s3cret"},
		},
		{name: "missing_explicit_config_file", configFile: "nope.yaml", wantErr: []string{`config: read config file "nope.yaml"`}},
		{
			name:    "unknown_config_file_key",
			files:   map[string]string{"agency.yaml": "log_levle: debug\ndb:\n  url: x\n"},
			wantErr: []string{"config: config file has unknown keys: db, log_levle"},
		},
		{name: "bare_number_duration_in_file", files: map[string]string{"agency.yaml": "otp_ttl: 300\n"}, wantErr: []string{"config: OTP_TTL: invalid duration 300"}},
		{name: "bad_value_in_file", files: map[string]string{"agency.yaml": "otp_max_attempts: many\n"}, wantErr: []string{`config: OTP_MAX_ATTEMPTS: invalid integer "many"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inTempDir(t, tt.files)
			_, err := Load(tt.env, tt.configFile)
			if err == nil {
				t.Fatalf("Load: got nil error, want one containing %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load: got error %q, want it to contain %q", err, want)
				}
			}
			for _, secret := range append(secretValues(tt.env), tt.hidden...) {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Load: got error %q, want it not to reveal %q", err, secret)
				}
			}
		})
	}
}

// secretValues returns the values env gives to secret keys.
func secretValues(env []string) []string {
	var values []string
	for name, value := range ParseEnv(env) {
		if secretKey(name) && value != "" {
			values = append(values, value)
		}
	}
	return values
}

func TestDBConfig_Dialect(t *testing.T) {
	tests := []struct {
		url  string
		want string
	}{
		{url: "", want: "sqlite3"},
		{url: "postgres://localhost/agency", want: "postgres"},
	}
	for _, tt := range tests {
		if got := (DBConfig{URL: tt.url}).Dialect(); got != tt.want {
			t.Errorf("Dialect() with URL %q: got %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestConfig_IsProduction(t *testing.T) {
	for _, tt := range []struct {
		env, value string
		want       bool
	}{
		{"development", "", true}, {"production", "", false},
		{"production", "true", true}, {"development", "false", false}, {"development", "0", false}, {"production", "1", true},
	} {
		c := &Config{AppEnv: tt.env, UI: UIConfig{Schema: tt.value, Docs: tt.value, Console: tt.value}}
		if c.SchemaUI() != tt.want || c.DocsUI() != tt.want || c.ConsoleUI() != tt.want {
			t.Errorf("APP_ENV=%s, switch %q: pages on = %v/%v/%v, want %v", tt.env, tt.value, c.SchemaUI(), c.DocsUI(), c.ConsoleUI(), tt.want)
		}
	}
	for env, want := range map[string]bool{"production": true, "development": false} {
		if got := (&Config{AppEnv: env}).IsProduction(); got != want {
			t.Errorf("IsProduction() with AppEnv %q: got %v, want %v", env, got, want)
		}
	}
}
