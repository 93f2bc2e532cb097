package handlers_test

// The helpers of the HTTP tests: the harness type, then one section per
// area. A helper used by one test file lives in that file.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/ent"
	"github.com/agency-platform/agency/ent/authidentity"
	"github.com/agency-platform/agency/ent/phoneotp"
	"github.com/agency-platform/agency/ent/session"
	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/app"
	"github.com/agency-platform/agency/internal/fakegraph"
	"github.com/agency-platform/agency/internal/fakeidp"
	"github.com/agency-platform/agency/internal/migration"
	"github.com/agency-platform/agency/internal/testdb"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// api is one test's running service (apitest.API), with the helpers of
// this package's tests as methods.
type api struct{ *apitest.API }

// newAPI starts the service on a fresh database of dialect d.
func newAPI(t testing.TB, d string, env ...string) *api { return &api{apitest.New(t, d, env...)} }

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// errorOf is an error response's code and field; it fails the test when
// the response carries no message.
func errorOf(t *testing.T, r apitest.Resp) (code, field string) {
	t.Helper()
	e := r.ErrorBody()
	if e.Message == "" {
		t.Fatalf("error response without a message: %s", r.Body)
	}
	return e.Code, e.Field
}

// Phone sign-in.

// The phone numbers the OTP tests use: valid Indian mobiles, plus a US
// number for the country filter and a US premium-rate number.
const (
	otpPhone        = "+919876543210"
	otpPhoneSpaced  = "+91 98765 43210"
	otpPhoneMasked  = "+91******3210"
	otpOtherPhone   = "+919876543211"
	otpUSPhone      = "+1 650 253 0000"
	otpPremiumPhone = "+1 900 555 0123"
)

// otpTestPhone returns the i-th of a family of distinct valid mobiles.
func otpTestPhone(i int) string { return fmt.Sprintf("+9198765%05d", 10000+i) }

// postSend asks for a code without asserting the answer.
func postSend(a *api, phone string) apitest.Resp {
	a.T.Helper()
	return a.Call("POST", "/v1/auth/otp/send", "", map[string]string{"phone": phone})
}

// postVerify posts a code for phone without asserting the answer.
func postVerify(a *api, phone, code string) apitest.Resp {
	a.T.Helper()
	return a.Call("POST", "/v1/auth/otp/verify", "", map[string]string{"phone": phone, "code": code})
}

// wantRetryAfter fails unless r carries an integer Retry-After in [1, most]
// seconds, and returns it.
func wantRetryAfter(t *testing.T, r apitest.Resp, most int) int {
	t.Helper()
	s, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || s < 1 || s > most {
		t.Fatalf("Retry-After: got %q, want an integer in [1, %d]", r.Header.Get("Retry-After"), most)
	}
	return s
}

// otpRows returns the phone_otps rows stored for an E.164 number.
func otpRows(t *testing.T, a *api, num string) []*ent.PhoneOTP {
	t.Helper()
	rows, err := a.Client.PhoneOTP.Query().Where(phoneotp.PhoneNumber(num)).All(context.Background())
	if err != nil {
		t.Fatalf("query phone_otps: %v", err)
	}
	return rows
}

// otpCase is one subtest: its extra configuration and its body.
type otpCase struct {
	name string
	env  []string
	run  func(t *testing.T, a *api)
}

// runOTPCases runs every case on a fresh service of each dialect.
func runOTPCases(t *testing.T, cases []otpCase) {
	apitest.ForEachDialect(t, func(t *testing.T, d string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, newAPI(t, d, tc.env...))
			})
		}
	})
}

// Sessions and refresh.

// manySends lifts the OTP send limits for tests that sign one number in
// many times.
var manySends = []string{"OTP_MAX_SENDS_PER_HOUR=1000", "OTP_MAX_SENDS_PER_IP_PER_HOUR=1000"}

func (a *api) mustRefresh(token string) apitest.Tokens {
	a.T.Helper()
	r := a.Refresh(token)
	if r.Status != http.StatusOK {
		a.T.Fatalf("refresh: got %d %s, want 200", r.Status, r.Body)
	}
	var p apitest.Tokens
	r.JSON(a.T, &p)
	return p
}

// otherSecret returns refresh token tok with one character of its secret
// changed (characters 32 to 74 encode the secret), still well-formed.
func otherSecret(tok string) string {
	c := byte('A')
	if tok[40] == 'A' {
		c = 'B'
	}
	return tok[:40] + string(c) + tok[41:]
}

// Access tokens.

// jwtB64 is the base64 flavour of JWT segments.
var jwtB64 = base64.RawURLEncoding

// signedToken signs claims under header (alg comes from method) with key.
func signedToken(t *testing.T, method jwt.SigningMethod, header, claims map[string]any, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	for k, v := range header {
		if k != "alg" {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

// sidOf is the session id an access token names.
func sidOf(t *testing.T, token string) string {
	t.Helper()
	sid, _ := accessClaims(t, token)["sid"].(string)
	if sid == "" {
		t.Fatalf("access token without sid")
	}
	return sid
}

// wantUnauthorized fails unless r is 401 unauthorized with a Bearer challenge.
func wantUnauthorized(t *testing.T, r apitest.Resp) {
	t.Helper()
	apitest.WantError(t, r, http.StatusUnauthorized, "unauthorized")
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		t.Fatalf("WWW-Authenticate: got %q, want a Bearer challenge", h)
	}
}

// storedSessions lists a user's session ids in the database, sorted.
func storedSessions(t *testing.T, a *api, userID string) []string {
	t.Helper()
	ids, err := a.Client.Session.Query().Where(session.UserID(uuid.MustParse(userID))).IDs(context.Background())
	if err != nil {
		t.Fatalf("query sessions: %v", err)
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id.String())
	}
	slices.Sort(out)
	return out
}

const (
	tokPhoneA = "+919812345670"
	tokPhoneB = "+919812345671"
)

// accessClaims decodes (without verifying) the payload of a JWT.
func accessClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token: got %d parts, want 3", len(parts))
	}
	b, err := jwtB64.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode token payload: %v", err)
	}
	var c map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode token payload: %v", err)
	}
	return c
}

// tokenHeader decodes (without verifying) the header of a JWT.
func tokenHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	head, _, _ := strings.Cut(token, ".")
	b, err := jwtB64.DecodeString(head)
	if err != nil {
		t.Fatalf("decode token header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("decode token header: %v", err)
	}
	return h
}

// Google and Facebook: the provider tests run the service against a local
// fake Google issuer (discovery, JWKS, RS256 ID tokens) and a local fake
// Graph API.

const (
	googleClientID = "web-client.apps.googleusercontent.test"
	fbAppID        = "424242"
	fbAppSecret    = "fb-app-secret-never-logged-0123456789"
)

// provAPI is a running service with both sign-in providers configured.
type provAPI struct {
	*api
	idp   *fakeidp.Server
	graph *fakegraph.Server
}

// newProvAPI starts the service on dialect d with Google and Facebook
// pointed at fresh fakes; env entries win over that configuration.
func newProvAPI(t testing.TB, d string, env ...string) *provAPI {
	t.Helper()
	idp := fakeidp.New(t)
	graph := fakegraph.New(t, fbAppID, fbAppSecret)
	base := []string{
		"GOOGLE_ISSUER_URL=" + idp.URL,
		"GOOGLE_CLIENT_IDS=" + googleClientID,
		"FACEBOOK_GRAPH_URL=" + graph.URL + "/v19.0",
		"FACEBOOK_APP_ID=" + fbAppID,
		"FACEBOOK_APP_SECRET=" + fbAppSecret,
	}
	return &provAPI{api: newAPI(t, d, append(base, env...)...), idp: idp, graph: graph}
}

// mustPair fails unless r is a 200 token pair, and returns it.
func mustPair(t testing.TB, r apitest.Resp) apitest.Tokens {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("sign-in: got %d %s, want 200", r.Status, r.Body)
	}
	var p apitest.Tokens
	r.JSON(t, &p)
	if p.AccessToken == "" || p.RefreshToken == "" || p.User.ID == "" {
		t.Fatalf("sign-in: incomplete token pair %s", r.Body)
	}
	return p
}

// identityRow returns the stored identity (provider, providerID), failing if
// there is none.
func identityRow(t testing.TB, a *api, provider authidentity.Provider, providerID string) *ent.AuthIdentity {
	t.Helper()
	row, err := a.Client.AuthIdentity.Query().
		Where(authidentity.ProviderEQ(provider), authidentity.ProviderID(providerID)).Only(context.Background())
	if err != nil {
		t.Fatalf("identity (%s, %s): %v", provider, providerID, err)
	}
	return row
}

// userRow returns the stored user with id.
func userRow(t testing.TB, a *api, id string) *ent.User {
	t.Helper()
	u, err := a.Client.User.Get(context.Background(), uuid.MustParse(id))
	if err != nil {
		t.Fatalf("user %s: %v", id, err)
	}
	return u
}

// rowCounts returns the numbers of users and identities stored.
func rowCounts(t testing.TB, a *api) (users, identities int) {
	t.Helper()
	ctx := context.Background()
	users, err := a.Client.User.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	identities, err = a.Client.AuthIdentity.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return users, identities
}

func wantRowCounts(t testing.TB, a *api, users, identities int) {
	t.Helper()
	if u, i := rowCounts(t, a); u != users || i != identities {
		t.Fatalf("rows: got %d users and %d identities, want %d and %d", u, i, users, identities)
	}
}

func strOrNil(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func wantStr(t testing.TB, what string, got *string, want string) {
	t.Helper()
	if got == nil || *got != want {
		t.Fatalf("%s: got %s, want %q", what, strOrNil(got), want)
	}
}

// googleToken is an ID token of the fake issuer for sub, issued now (by the
// service's clock), with edits applied to the claims; a nil value deletes one.
func (p *provAPI) googleToken(sub string, edits map[string]any) string {
	p.T.Helper()
	return p.idp.Token(p.T, p.googleClaims(sub, edits))
}

func (p *provAPI) googleClaims(sub string, edits map[string]any) map[string]any {
	c := p.idp.Claims(sub, googleClientID, p.Clock.Now())
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (p *provAPI) google(idToken string) apitest.Resp {
	p.T.Helper()
	return p.Call("POST", "/v1/auth/google", "", map[string]string{"id_token": idToken})
}

// fbUser registers token with the fake Graph as Facebook user id, with a
// name, a confirmed email and a picture.
func (p *provAPI) fbUser(token, id string) fakegraph.User {
	u := fakegraph.User{ID: id, Name: "FB " + id, Email: id + "@fb.example", Picture: "https://fb.example/" + id + ".jpg"}
	p.graph.AddUser(token, u)
	return u
}

func (p *provAPI) facebook(accessToken string) apitest.Resp {
	p.T.Helper()
	return p.Call("POST", "/v1/auth/facebook", "", map[string]string{"access_token": accessToken})
}

// Linked sign-in methods.

// linkedIdentity is an Identity as the API returns it.
type linkedIdentity struct {
	ID         string    `json:"id"`
	Provider   string    `json:"provider"`
	ProviderID string    `json:"provider_id"`
	Email      *string   `json:"email"`
	CreatedAt  time.Time `json:"created_at"`
}

// withRole signs in with Google as sub and picks the creator role; it
// returns the pair of that (fresh) session.
func (p *provAPI) withRole(sub string) apitest.Tokens {
	p.T.Helper()
	pair := mustPair(p.T, p.google(p.googleToken(sub, nil)))
	r := p.Call("PUT", "/v1/me/role", pair.AccessToken, map[string]string{"role": "creator"})
	if r.Status != http.StatusOK {
		p.T.Fatalf("PUT /v1/me/role: got %d %s, want 200", r.Status, r.Body)
	}
	var q apitest.Tokens
	r.JSON(p.T, &q)
	return q
}

// link posts body to /v1/me/identities/{kind}.
func (p *provAPI) link(bearer, kind string, body map[string]string) apitest.Resp {
	p.T.Helper()
	return p.Call("POST", "/v1/me/identities/"+kind, bearer, body)
}

func (p *provAPI) linkGoogle(bearer, idToken string) apitest.Resp {
	p.T.Helper()
	return p.link(bearer, "google", map[string]string{"id_token": idToken})
}

func (p *provAPI) linkFacebook(bearer, accessToken string) apitest.Resp {
	p.T.Helper()
	return p.link(bearer, "facebook", map[string]string{"access_token": accessToken})
}

func (p *provAPI) unlink(bearer, id string) apitest.Resp {
	p.T.Helper()
	return p.Call("DELETE", "/v1/me/identities/"+id, bearer, nil)
}

// mustLink fails unless r is a 201 identity, and returns it.
func mustLink(t testing.TB, r apitest.Resp) linkedIdentity {
	t.Helper()
	if r.Status != http.StatusCreated {
		t.Fatalf("link: got %d %s, want 201", r.Status, r.Body)
	}
	var id linkedIdentity
	r.JSON(t, &id)
	return id
}

// myIdentities lists the caller's identities through GET /v1/me.
func (p *provAPI) myIdentities(bearer string) []linkedIdentity {
	p.T.Helper()
	r := p.Call("GET", "/v1/me", bearer, nil)
	if r.Status != http.StatusOK {
		p.T.Fatalf("GET /v1/me: got %d %s, want 200", r.Status, r.Body)
	}
	var me struct {
		Identities []linkedIdentity `json:"identities"`
	}
	r.JSON(p.T, &me)
	return me.Identities
}

// userIdentityCount counts the stored identities of user id.
func userIdentityCount(t testing.TB, a *api, id string) int {
	t.Helper()
	n, err := a.Client.AuthIdentity.Query().Where(authidentity.UserID(uuid.MustParse(id))).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fbUserToken registers a Facebook account id and returns its token.
func (p *provAPI) fbUserToken(id string) string {
	tok := "EAA-" + id
	p.fbUser(tok, id)
	return tok
}

// statusTally counts statuses and error codes of concurrent calls.
type statusTally struct {
	status []int
	codes  []string
}

func (s *statusTally) record(i int, r apitest.Resp) { s.status[i], s.codes[i] = r.Status, r.ErrCode() }

// want fails unless exactly one call got okStatus and every other got
// conflictStatus with code.
func (s *statusTally) want(t testing.TB, okStatus, conflictStatus int, code string) {
	t.Helper()
	ok := 0
	for i, st := range s.status {
		switch {
		case st == okStatus:
			ok++
		case st != conflictStatus || s.codes[i] != code:
			t.Fatalf("got statuses %v codes %v, want one %d and the rest %d %s", s.status, s.codes, okStatus, conflictStatus, code)
		}
	}
	if ok != 1 {
		t.Fatalf("got %d of %d calls with %d (statuses %v), want exactly one", ok, len(s.status), okStatus, s.status)
	}
}

// Admin.

// adminUser is an AdminUser or AdminUserDetail as the API returns it.
type adminUser struct {
	ID           string           `json:"id"`
	Role         *string          `json:"role"`
	FullName     *string          `json:"full_name"`
	CreatedAt    time.Time        `json:"created_at"`
	Identities   []linkedIdentity `json:"identities"`
	SessionCount *int             `json:"session_count"`
}

// userPage is one page of GET /v1/admin/users.
type userPage struct {
	Users      []adminUser `json:"users"`
	NextCursor *string     `json:"next_cursor"`
}

// runGrant runs `agency admin grant args...` against a's database, as an
// operator would, and returns its standard output.
func runGrant(t testing.TB, a *api, args ...string) (string, error) {
	t.Helper()
	env := apitest.Env("WEBHOOK_URL="+a.Config.Webhook.URL, "WEBHOOK_SECRET="+a.Config.Webhook.Secret)
	if a.Dialect == migration.Postgres {
		env = append(env, "DATABASE_URL="+a.Config.DB.URL)
	} else {
		env = append(env, "SQLITE_PATH="+a.Config.DB.SQLitePath)
	}
	var out, errOut bytes.Buffer
	err := app.Program{}.Run(context.Background(), append([]string{"admin", "grant"}, args...), env, &out, &errOut)
	return out.String(), err
}

// newAdmin signs phone in and makes that user admin from the command line;
// it returns the pair issued before the grant.
func newAdmin(t testing.TB, a *api, phone string) apitest.Tokens {
	t.Helper()
	pair := a.SignIn(phone)
	if out, err := runGrant(t, a, "--phone", phone); err != nil {
		t.Fatalf("admin grant --phone %s: %v", phone, err)
	} else if want := "user " + pair.User.ID + " is now admin"; !strings.Contains(out, want) {
		t.Fatalf("admin grant output: got %q, want it to contain %q", out, want)
	}
	return pair
}

// listUsers calls GET /v1/admin/users with q.
func listUsers(a *api, bearer string, q url.Values) apitest.Resp {
	a.T.Helper()
	path := "/v1/admin/users"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return a.Call("GET", path, bearer, nil)
}

func mustPage(t testing.TB, r apitest.Resp) userPage {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("list users: got %d %s, want 200", r.Status, r.Body)
	}
	var p userPage
	r.JSON(t, &p)
	return p
}
