// Package google verifies Google ID tokens with OIDC discovery and the
// issuer's JWKS.
package google

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agency-platform/agency/internal/upstream"
	"github.com/coreos/go-oidc/v3/oidc"
)

const (
	defaultIssuer  = "https://accounts.google.com"
	defaultTimeout = 5 * time.Second
	// defaultDiscoveryRetry is how long a failed discovery is remembered.
	defaultDiscoveryRetry = time.Second
	// defaultMinKeyRefresh is the floor between two JWKS fetches.
	defaultMinKeyRefresh = 30 * time.Second
)

// Config configures a Verifier.
type Config struct {
	// IssuerURL defaults to https://accounts.google.com; tests pass a fake
	// issuer's URL.
	IssuerURL string
	// ClientIDs are the accepted audiences (web, iOS, Android client ids).
	// Empty disables sign-in: every Verify returns upstream.ErrDisabled.
	ClientIDs []string
	// Timeout bounds each network step (discovery, JWKS fetch); default 5s.
	Timeout time.Duration
	// HTTPClient is optional; it is copied, and given Timeout if it has none.
	HTTPClient *http.Client
	// DiscoveryRetry is how long a failed discovery is answered from memory
	// before the issuer is asked again (default 1s; negative: not at all).
	DiscoveryRetry time.Duration
	// MinKeyRefresh is the least time between two fetches of the issuer's
	// keys, however many tokens with unknown key ids arrive (default 30s;
	// negative: no floor).
	MinKeyRefresh time.Duration
}

// Verifier checks Google ID tokens. It is safe for concurrent use.
type Verifier struct {
	issuer    string
	clientIDs map[string]bool
	timeout   time.Duration
	client    *http.Client
	now       func() time.Time

	// retryAfter is how long a failed discovery's answer is given to
	// every caller before the issuer is asked again.
	retryAfter time.Duration

	// mu guards attempt, the discovery under way or last finished.
	mu      sync.Mutex
	attempt *discovery
	// tokens is set once discovery succeeds; nil means not yet (or failed).
	tokens atomic.Pointer[oidc.IDTokenVerifier]
}

// New returns a Verifier. It does no network I/O: discovery happens on the
// first Verify.
func New(cfg Config, now func() time.Time) *Verifier {
	v := &Verifier{
		issuer:     cfg.IssuerURL,
		clientIDs:  make(map[string]bool, len(cfg.ClientIDs)),
		timeout:    cfg.Timeout,
		now:        now,
		retryAfter: cfg.DiscoveryRetry,
	}
	if v.retryAfter == 0 {
		v.retryAfter = defaultDiscoveryRetry
	}
	if v.issuer == "" {
		v.issuer = defaultIssuer
	}
	if v.timeout <= 0 {
		v.timeout = defaultTimeout
	}
	for _, id := range cfg.ClientIDs {
		// An empty id would match a token whose aud is "".
		if id != "" {
			v.clientIDs[id] = true
		}
	}
	client := http.Client{}
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	}
	if client.Timeout == 0 {
		// go-oidc fetches the JWKS with a context that never ends, so the
		// client's own timeout is what bounds that request.
		client.Timeout = v.timeout
	}
	minRefresh := cfg.MinKeyRefresh
	if minRefresh == 0 {
		minRefresh = defaultMinKeyRefresh
	}
	client.Transport = &issuerTransport{base: client.Transport, now: now, minRefresh: minRefresh, cache: map[string]cachedAnswer{}}
	v.client = &client
	return v
}

// Enabled reports whether at least one client id is configured.
func (v *Verifier) Enabled() bool {
	return len(v.clientIDs) > 0
}

// Verify checks idToken's signature (RS256, issuer JWKS), issuer, audience
// and expiry, and returns the identity it asserts. Failures wrap upstream.ErrDisabled,
// upstream.ErrInvalid or upstream.ErrUnavailable and never contain the token.
func (v *Verifier) Verify(ctx context.Context, idToken string) (*upstream.Identity, error) {
	if !v.Enabled() {
		return nil, fmt.Errorf("google: %w", upstream.ErrDisabled)
	}
	// One budget from the call's start: discovery (shared) and checking.
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	tokens, err := v.tokenVerifier(ctx)
	if err != nil {
		return nil, err
	}
	// go-oidc flattens key-fetch errors into text before returning, so the
	// key set notes them here, on this call's own record.
	rec := &callRecord{}
	tok, err := tokens.Verify(context.WithValue(ctx, callKey{}, rec), idToken)
	if err != nil {
		if rec.keysUnavailable.Load() || ctx.Err() != nil {
			return nil, fmt.Errorf("google: %w: fetch signing keys: %w", upstream.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("google: %w: %w", upstream.ErrInvalid, err)
	}
	return v.identity(tok)
}

// discovery is one attempt at discovery, shared by every call that arrives
// while it runs (and, if it failed, for retryAfter after).
type discovery struct {
	done   chan struct{}
	tokens *oidc.IDTokenVerifier
	err    error
	ended  time.Time
}

// tokenVerifier returns the verifier built from a successful discovery.
// Until there is one, concurrent calls share one attempt and its result,
// each waiting no longer than its own context allows: while the issuer
// hangs, the n-th of n callers waits one PROVIDER_TIMEOUT, not n.
func (v *Verifier) tokenVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	if tokens := v.tokens.Load(); tokens != nil {
		return tokens, nil
	}
	v.mu.Lock()
	a := v.attempt
	if a == nil || v.stale(a) {
		a = &discovery{done: make(chan struct{})}
		v.attempt = a
		go v.discover(a)
	}
	v.mu.Unlock()
	select {
	case <-a.done:
		return a.tokens, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("google: %w: wait for discovery: %w", upstream.ErrUnavailable, ctx.Err())
	}
}

// stale reports whether a finished attempt failed longer than retryAfter
// ago, so the issuer may be asked again. Called with mu held.
func (v *Verifier) stale(a *discovery) bool {
	select {
	case <-a.done:
		return a.err != nil && v.now().Sub(a.ended) >= v.retryAfter
	default:
		return false // still running: join it
	}
}

// discover runs one discovery, bounded by the verifier's timeout (not by
// any one caller's context), and publishes its result.
func (v *Verifier) discover(a *discovery) {
	defer close(a.done)
	ctx, cancel := context.WithTimeout(context.Background(), v.timeout)
	defer cancel()
	a.tokens, a.err = v.discoverOnce(ctx)
	v.mu.Lock()
	a.ended = v.now()
	v.mu.Unlock()
	if a.err == nil {
		v.tokens.Store(a.tokens)
	}
}

// discoverOnce reads the issuer's discovery document and builds the token
// verifier on its key set.
func (v *Verifier) discoverOnce(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, v.client), v.issuer)
	if err != nil {
		return nil, fmt.Errorf("google: %w: discovery: %w", upstream.ErrUnavailable, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, fmt.Errorf("google: %w: discovery: no jwks_uri", upstream.ErrUnavailable)
	}
	// This is what provider.VerifierContext builds, with the key set wrapped
	// so fetch failures can be told from bad signatures. The remote key set
	// keeps this context (minus cancellation) for every JWKS fetch; one per
	// discovery keeps its key cache and its refetch on an unknown kid.
	remote := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), v.client), meta.JWKSURI)
	return oidc.NewVerifier(v.issuer, keySet{remote: remote}, &oidc.Config{
		SkipClientIDCheck:    true, // several client ids: checked in identity
		SkipIssuerCheck:      true, // two spellings: checked in identity
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  v.now,
	}), nil
}

// maxClockSkew is how far in the future a token's iat may be: Google's
// clocks and ours disagree by seconds, not by this much.
const maxClockSkew = 5 * time.Minute

// identity applies the checks go-oidc was told to skip, and those of OpenID
// Connect Core section 3.1.3.7 it leaves to clients, and reads the claims.
func (v *Verifier) identity(tok *oidc.IDToken) (*upstream.Identity, error) {
	if !v.issuerAccepted(tok.Issuer) {
		return nil, fmt.Errorf("google: %w: unexpected issuer %q", upstream.ErrInvalid, tok.Issuer)
	}
	if !v.audienceAccepted(tok.Audience) {
		return nil, fmt.Errorf("google: %w: audience is not one of our client ids", upstream.ErrInvalid)
	}
	if tok.Subject == "" {
		return nil, fmt.Errorf("google: %w: missing sub", upstream.ErrInvalid)
	}
	if tok.IssuedAt.After(v.now().Add(maxClockSkew)) {
		return nil, fmt.Errorf("google: %w: issued in the future", upstream.ErrInvalid)
	}
	var claims struct {
		Email         string   `json:"email"`
		EmailVerified flexBool `json:"email_verified"`
		Name          string   `json:"name"`
		Picture       string   `json:"picture"`
		// AuthorizedParty is the client the token was issued to.
		AuthorizedParty string `json:"azp"`
	}
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("google: %w: read claims: %w", upstream.ErrInvalid, err)
	}
	// Several audiences need an azp, and an azp must be one of ours: a
	// token issued to another app must not sign in here.
	if len(tok.Audience) > 1 && claims.AuthorizedParty == "" {
		return nil, fmt.Errorf("google: %w: several audiences and no azp", upstream.ErrInvalid)
	}
	if claims.AuthorizedParty != "" && !v.clientIDs[claims.AuthorizedParty] {
		return nil, fmt.Errorf("google: %w: azp is not one of our client ids", upstream.ErrInvalid)
	}
	return &upstream.Identity{
		Subject:       tok.Subject,
		Email:         claims.Email,
		EmailVerified: bool(claims.EmailVerified),
		Name:          claims.Name,
		Picture:       claims.Picture,
	}, nil
}

// issuerAccepted allows the issuer URL and the same without its scheme:
// Google issues both "https://accounts.google.com" and "accounts.google.com".
func (v *Verifier) issuerAccepted(iss string) bool {
	if iss == v.issuer {
		return true
	}
	for _, scheme := range []string{"https://", "http://"} {
		if bare, ok := strings.CutPrefix(v.issuer, scheme); ok {
			return iss == bare
		}
	}
	return false
}

func (v *Verifier) audienceAccepted(aud []string) bool {
	for _, a := range aud {
		if v.clientIDs[a] {
			return true
		}
	}
	return false
}

// flexBool reads a JSON bool or its string form: Google sometimes sends
// email_verified as "true".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null":
		*b = false
	default:
		return errors.New("email_verified is not a boolean")
	}
	return nil
}

// callKey is the context key under which a Verify call passes its
// *callRecord down to the key set.
type callKey struct{}

// callRecord is what one Verify call learned about the issuer.
type callRecord struct {
	keysUnavailable atomic.Bool
}

// keySet wraps go-oidc's remote key set. It sees each call's own context
// and the fetch error still wrapped, which the verifier above it turns into
// text; the remote set itself fetches with a shared context and may hand a
// call the result of a fetch another call started.
type keySet struct {
	remote *oidc.RemoteKeySet
}

// VerifySignature implements oidc.KeySet.
func (k keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.remote.VerifySignature(ctx, jwt)
	// Every issuer-side failure reaches here as a *url.Error (the client
	// wraps all of them, issuerTransport makes 5xx one) or as the end of ctx.
	var urlErr *url.Error
	if err != nil && (errors.As(err, &urlErr) || ctx.Err() != nil) {
		if rec, ok := ctx.Value(callKey{}).(*callRecord); ok {
			rec.keysUnavailable.Store(true)
		}
	}
	return payload, err
}

// maxResponseBody bounds discovery and JWKS documents (a few KiB in practice).
const maxResponseBody = 1 << 20

// issuerTransport makes every failure on the issuer's side a transport
// error: a 5xx answer, or a body cut off by the client timeout. go-oidc
// keeps transport errors in its error chain but flattens the others.
//
// It also answers a GET of a document fetched less than minRefresh ago
// from its copy: go-oidc refetches the JWKS for every token whose key id
// it does not know, so tokens with made-up key ids would each cost a
// request to Google. A real key rotation is picked up once minRefresh has
// passed.
type issuerTransport struct {
	base       http.RoundTripper
	now        func() time.Time
	minRefresh time.Duration

	mu    sync.Mutex
	cache map[string]cachedAnswer
}

// cachedAnswer is a successful answer and when it was fetched.
type cachedAnswer struct {
	at     time.Time
	header http.Header
	body   []byte
}

// RoundTrip implements http.RoundTripper.
func (t *issuerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if resp := t.cached(req); resp != nil {
		return resp, nil
	}
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= http.StatusInternalServerError {
		return nil, fmt.Errorf("issuer answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("read issuer response: %w", err)
	}
	if len(body) > maxResponseBody {
		return nil, errors.New("issuer response too large")
	}
	if req.Method == http.MethodGet && resp.StatusCode == http.StatusOK {
		t.mu.Lock()
		t.cache[req.URL.String()] = cachedAnswer{at: t.now(), header: resp.Header.Clone(), body: body}
		t.mu.Unlock()
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// cached returns the copy of a GET answered less than minRefresh ago, or nil.
func (t *issuerTransport) cached(req *http.Request) *http.Response {
	if req.Method != http.MethodGet || t.minRefresh <= 0 {
		return nil
	}
	t.mu.Lock()
	c, ok := t.cache[req.URL.String()]
	t.mu.Unlock()
	if !ok || t.now().Sub(c.at) >= t.minRefresh {
		return nil
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: c.header.Clone(), Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)),
		Request: req,
	}
}
