package app

import (
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/agency-platform/agency/config"
	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/handlers"
	"github.com/agency-platform/agency/internal/accesstoken"
	"github.com/agency-platform/agency/internal/devsecrets"
	"github.com/agency-platform/agency/internal/phone"
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
func newSender(cfg *config.Config, log *slog.Logger) sms.Sender {
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

// Deps is what NewHandler builds the service from: the configuration, an
// open database, and the outside world the tests replace (SMS, clock).
type Deps struct {
	Config *config.Config
	DB     *sql.DB
	Client *ent.Client
	SMS    sms.Sender
	Now    func() time.Time
	Log    *slog.Logger
	// OpenAPI is the contract served at GET /openapi.yaml.
	OpenAPI []byte
}

// NewHandler wires the services and the router on an open database, as
// `agency serve` does; the HTTP tests call it too.
func NewHandler(d Deps) (http.Handler, error) {
	cfg, db, client, sender, now, log := d.Config, d.DB, d.Client, d.SMS, d.Now, d.Log
	issuer, err := accesstoken.New(accesstoken.Config{
		Algorithm: cfg.JWT.Algorithm, PrivateKey: cfg.JWT.PrivateKey, Secret: cfg.JWT.Secret,
		Issuer: cfg.JWT.Issuer, Audience: cfg.JWT.Audience, TTL: cfg.JWT.AccessTokenTTL,
	}, now)
	if err != nil {
		return nil, err
	}
	events := services.NewEvents(log)
	dialect := cfg.DB.Dialect()
	sessions := services.NewSessions(client, dialect, issuer, services.SessionConfig{
		RefreshTTL: cfg.Sessions.RefreshTokenTTL, MaxAge: cfg.Sessions.MaxAge, ReuseGrace: cfg.Sessions.RefreshReuseGrace,
		MaxPerUser: cfg.Sessions.MaxPerUser, RefreshKey: []byte(cfg.Sessions.RefreshTokenSecret),
	}, now, events)
	phoneAuth := services.NewPhoneAuth(client, sender, sessions, services.OTPConfig{
		TTL: cfg.OTP.TTL, ResendCooldown: cfg.OTP.ResendCooldown, MaxSendsPerHour: cfg.OTP.MaxSendsPerHour,
		MaxSendsPerIPPerHour: cfg.OTP.MaxSendsPerIPPerHour, MaxAttempts: cfg.OTP.MaxAttempts,
		MaxFailuresPerDay: cfg.OTP.MaxFailuresPerDay, SendTimeout: cfg.SMS.Timeout, Secret: []byte(cfg.OTP.Secret),
		AllowedCountries: cfg.SMS.AllowedCountries, TestCodes: cfg.SMS.TestOTPs,
	}, now, events)
	if n := len(cfg.SMS.TestOTPs); n > 0 {
		var masked []string
		for num := range cfg.SMS.TestOTPs {
			masked = append(masked, phone.Mask(num))
		}
		slices.Sort(masked)
		log.Warn("SMS_TEST_OTPS: fixed codes accepted for these numbers; no SMS is sent to them", "numbers", strings.Join(masked, ","))
	}
	googleV, facebookV := newVerifiers(cfg, now)
	providers := services.NewProviderAuth(client, sessions, googleV, facebookV, now, events)
	h, err := handlers.New(handlers.Deps{
		Logger: log, DB: db, TrustedProxies: cfg.HTTP.TrustedProxies,
		Sessions: sessions, Phone: phoneAuth, Users: services.NewUsers(client, sessions, events),
		Providers: providers, Identities: services.NewIdentities(client, dialect, phoneAuth, providers, now, events),
		Admin: services.NewAdmin(client, events),
		JWKS:  issuer.JWKS(), OpenAPI: d.OpenAPI,
	})
	if err != nil {
		return nil, fmt.Errorf("build router: %w", err)
	}
	return h, nil
}
