package app

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/handlers"
	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/database"
	"github.com/agency-platform/agency/internal/devsecrets"
	"github.com/agency-platform/agency/internal/facebook"
	"github.com/agency-platform/agency/internal/google"
	"github.com/agency-platform/agency/internal/metrics"
	"github.com/agency-platform/agency/internal/phone"
	"github.com/agency-platform/agency/internal/schemaviz"
	"github.com/agency-platform/agency/internal/sms"
	"github.com/agency-platform/agency/services"
)

// fillDevSecrets supplies, outside production, every secret left unset
// from a generated file beside the embedded database, and says so once.
func fillDevSecrets(cfg *config.Config, log *slog.Logger) error {
	if cfg.IsProduction() {
		return nil
	}
	var missing []string
	if cfg.OTP.Secret == "" {
		missing = append(missing, "OTP_SECRET")
	}
	if cfg.Sessions.RefreshTokenSecret == "" {
		missing = append(missing, "REFRESH_TOKEN_SECRET")
	}
	if cfg.JWT.Algorithm == accesstoken.HS256 && cfg.JWT.Secret == "" {
		missing = append(missing, "JWT_SECRET")
	}
	if cfg.JWT.Algorithm != accesstoken.HS256 && cfg.JWT.PrivateKey == "" {
		missing = append(missing, "JWT_PRIVATE_KEY")
	}
	if len(missing) == 0 {
		return nil
	}
	path := filepath.Join(filepath.Dir(cfg.DB.SQLitePath), "dev-secrets.json")
	s, err := devsecrets.LoadOrCreate(path)
	if err != nil {
		return err
	}
	for _, k := range missing {
		switch k {
		case "OTP_SECRET":
			cfg.OTP.Secret = s.OTPSecret
		case "REFRESH_TOKEN_SECRET":
			cfg.Sessions.RefreshTokenSecret = s.RefreshTokenSecret
		case "JWT_SECRET":
			cfg.JWT.Secret = s.JWTSecret
		case "JWT_PRIVATE_KEY":
			cfg.JWT.PrivateKey = s.JWTPrivateKey
		}
	}
	log.Warn("DEV MODE: using generated secrets; set them for production", "keys", strings.Join(missing, ","), "file", path)
	return nil
}

// newSender builds the configured SMS sender.
func newSender(cfg *config.Config, log *slog.Logger) services.SMSSender {
	client := &http.Client{Timeout: cfg.SMS.Timeout}
	switch cfg.SMS.Provider {
	case "webhook":
		return sms.NewWebhook(client, cfg.SMS.WebhookURL, cfg.OTP.TTL)
	case "twilio":
		t := cfg.SMS.Twilio
		return sms.NewTwilio(client, t.BaseURL, t.AccountSID, t.AuthToken, t.From, cfg.OTP.TTL)
	}
	log.Warn("DEV MODE: SMS_PROVIDER=log prints one-time codes to this log instead of sending them")
	return sms.NewLog(log, cfg.OTP.TTL)
}

// codeDelivery tells the console's user where a sent code goes.
func codeDelivery(cfg *config.Config) string {
	switch cfg.SMS.Provider {
	case "webhook":
		return "to the SMS webhook (SMS_PROVIDER=webhook)"
	case "twilio":
		return "by SMS through Twilio"
	}
	return "to the server log (SMS_PROVIDER=log): look for the DEV SMS sender line"
}

// Deps is what NewHandler builds the service from: the configuration, an
// open database, and the outside world the tests replace (SMS, clock). A
// nil SMS is the sender the configuration names.
type Deps struct {
	Config *config.Config
	// DB is the open pool; NewHandler puts its own guarded Ent client on it
	// (database.NewServiceClient: statement deadlines, dead pools flushed).
	DB  *sql.DB
	SMS services.SMSSender
	Now func() time.Time
	Log *slog.Logger
	// OpenAPI is the contract served at GET /openapi.yaml.
	OpenAPI []byte
	// Metrics count requests and security events (nil: nothing is counted);
	// whoever made them serves them (serve.go on METRICS_ADDR).
	Metrics *metrics.Metrics
	// Pooled says a transaction pooler sits between the service and
	// PostgreSQL (database.BehindTransactionPooler, found by serve):
	// DB_PREPARED_STATEMENTS=auto then prepares nothing.
	Pooled bool
	// WrapDriver, when set, wraps the services' Ent driver: the HTTP tests
	// count the statements each endpoint sends with it. Nil in the service.
	WrapDriver func(dialect.Driver) dialect.Driver
}

// Service is the wired service: its router and its webhook deliverer
// (whose Run serve starts; tests drive DeliverDue themselves).
type Service struct {
	Handler  http.Handler
	Webhooks *services.Webhooks
}

// NewHandler wires the services and the router on an open database, as
// `agency serve` does.
func NewHandler(d Deps) (http.Handler, error) {
	s, err := New(d)
	if err != nil {
		return nil, err
	}
	return s.Handler, nil
}

// New wires the services, the router and the webhook deliverer on an open
// database, as `agency serve` does; the HTTP tests call it too.
func New(d Deps) (*Service, error) {
	cfg := d.Config
	issuer, err := accesstoken.New(accesstoken.Config{
		Algorithm: cfg.JWT.Algorithm, PrivateKey: cfg.JWT.PrivateKey, Secret: cfg.JWT.Secret,
		Issuer: cfg.JWT.Issuer, Audience: cfg.JWT.Audience, TTL: cfg.JWT.AccessTokenTTL,
	}, d.Now)
	if err != nil {
		return nil, err
	}
	if d.SMS == nil {
		d.SMS = newSender(cfg, d.Log)
	}
	logTestNumbers(cfg, d.Log)
	if cfg.HTTP.TrustsAnyAddress() {
		d.Log.Warn("TRUSTED_PROXIES covers every address: any client can set the IP that rate limits see with X-Forwarded-For; list only your proxies")
	}
	drv := database.NewServiceDriver(d.DB, cfg.DB.Dialect(), cfg.DB.QueryTimeout, cfg.DB.MaxIdleConns, cfg.DB.Prepared(d.Pooled), d.WrapDriver)
	base := newBase(drv, d.Now, d.Log, d.Metrics.Observe)
	var outbox *services.Outbox
	if cfg.Webhook.URL != "" {
		outbox = services.NewOutbox()
	}
	base = withOutbox(cfg, base, outbox)
	webhooks := services.NewWebhooks(base, services.WebhookConfig{URL: cfg.Webhook.URL, Secret: cfg.Webhook.SecretKey(),
		Timeout: cfg.Webhook.Timeout, MaxAttempts: cfg.Webhook.MaxAttempts, Poll: time.Second}, outbox)
	sessions := services.NewSessions(base, issuer, services.SessionConfig{
		RefreshTTL: cfg.Sessions.RefreshTokenTTL, MaxAge: cfg.Sessions.MaxAge, ReuseGrace: cfg.Sessions.RefreshReuseGrace,
		MaxPerUser: cfg.Sessions.MaxPerUser, RefreshKey: []byte(cfg.Sessions.RefreshTokenSecret),
	})
	phoneAuth := services.NewPhoneAuth(base, d.SMS, sessions, services.OTPConfig{
		TTL: cfg.OTP.TTL, ResendCooldown: cfg.OTP.ResendCooldown, MaxSendsPerHour: cfg.OTP.MaxSendsPerHour,
		MaxSendsPerIPPerHour: cfg.OTP.MaxSendsPerIPPerHour, MaxAttempts: cfg.OTP.MaxAttempts,
		MaxFailuresPerDay: cfg.OTP.MaxFailuresPerDay, MaxVerifyFailuresPerIPPerHour: cfg.OTP.MaxVerifyFailuresPerIPPerHour,
		SendTimeout: cfg.SMS.Timeout, Secret: []byte(cfg.OTP.Secret),
		AllowedCountries: cfg.SMS.AllowedCountries, TestCodes: cfg.SMS.TestOTPs,
	})
	google, facebook := newVerifiers(cfg, d.Now)
	providers := services.NewProviderAuth(base, sessions, google, facebook, cfg.ProviderSignInsPerIPPerHour)
	h, err := handlers.New(handlers.Deps{
		Logger: d.Log, TrustedProxies: cfg.HTTP.TrustedProxies,
		DB:       &readiness{probe: database.Probe{DB: d.DB, Idle: cfg.DB.MaxIdleConns}, db: d.DB, dialect: cfg.DB.Dialect(), log: d.Log},
		Sessions: sessions, Phone: phoneAuth, Users: services.NewUsers(base, sessions),
		Providers: providers, Identities: services.NewIdentities(base, phoneAuth, providers),
		Admin: services.NewAdmin(base), Audit: services.NewAudit(base), Webhooks: webhooks,
		JWKS: issuer.JWKS(), OpenAPI: d.OpenAPI,
		Metrics: d.Metrics, CORSAllowedOrigins: cfg.HTTP.CORSAllowedOrigins,
		Pages: handlers.Pages{Docs: cfg.DocsUI(), Console: cfg.ConsoleUI(), CodeDelivery: codeDelivery(cfg), Schema: schemaPage(cfg)},
	})
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	return &Service{Handler: h, Webhooks: webhooks}, nil
}

// schemaPage is GET /schema's page when SCHEMA_UI is on and the build can
// draw it: the diagram of the code's schema in the configured database's
// dialect.
func schemaPage(cfg *config.Config) *handlers.SchemaPage {
	if !cfg.SchemaUI() || !schemaviz.Available { // a production build has no Graphviz
		return nil
	}
	return &handlers.SchemaPage{
		Render: func(ctx context.Context) ([]byte, error) {
			m, err := schemaviz.FromCode(ctx, cfg.DB.Dialect())
			if err != nil {
				return nil, err
			}
			return schemaviz.HTML(ctx, m)
		},
		CSP: schemaviz.ContentSecurityPolicy,
	}
}

// withOutbox is base queuing webhook events when WEBHOOK_URL is set,
// waking o's deliverer (a command, with no deliverer, passes nil: the
// instances' deliverers find its events at their next poll).
func withOutbox(cfg *config.Config, base services.Base, o *services.Outbox) services.Base {
	if cfg.Webhook.URL == "" {
		return base
	}
	if o == nil {
		o = services.NewOutbox()
	}
	return base.WithOutbox(o)
}

// newBase is what every service stands on: the database of the configured
// dialect, the clock and the security event log with its observers.
func newBase(drv dialect.Driver, now func() time.Time, log *slog.Logger, observers ...services.Observer) services.Base {
	return services.NewBase(drv, now, services.NewEvents(log, observers...))
}

// logTestNumbers says, masked, which numbers take fixed codes.
func logTestNumbers(cfg *config.Config, log *slog.Logger) {
	if len(cfg.SMS.TestOTPs) == 0 {
		return
	}
	var masked []string
	for num := range cfg.SMS.TestOTPs {
		masked = append(masked, phone.Mask(num))
	}
	slices.Sort(masked)
	log.Warn("SMS_TEST_OTPS: fixed codes accepted for these numbers; no SMS is sent to them", "numbers", strings.Join(masked, ","))
}

// newVerifiers builds the Google and Facebook verifiers from the config.
// They answer the services' Verifier port as they are: no adapter.
func newVerifiers(cfg *config.Config, now func() time.Time) (*google.Verifier, *facebook.Verifier) {
	g := google.New(google.Config{IssuerURL: cfg.Google.IssuerURL, ClientIDs: cfg.Google.ClientIDs, Timeout: cfg.ProviderTimeout,
		MinKeyRefresh: cfg.Google.JWKSMinRefresh}, now)
	f := facebook.New(facebook.Config{GraphURL: cfg.Facebook.GraphURL, AppID: cfg.Facebook.AppID,
		AppSecret: cfg.Facebook.AppSecret, Timeout: cfg.ProviderTimeout}, now)
	return g, f
}
