package handlers_test

import (
	"bytes"
	"net/http"
	"os"
	"testing"

	"github.com/agency-platform/agency/internal/apitest"
	"github.com/agency-platform/agency/internal/migration"
)

func TestJWKS(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	r := a.Call("GET", "/.well-known/jwks.json", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("got %d %s, want 200", r.Status, r.Body)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	r.JSON(t, &set)
	if len(set.Keys) != 1 {
		t.Fatalf("keys: got %d, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k["kty"] != "EC" || k["crv"] != "P-256" || k["alg"] != "ES256" || k["use"] != "sig" || k["kid"] == "" || k["kid"] == nil || k["x"] == nil || k["y"] == nil {
		t.Fatalf("key: got %v, want a P-256 ES256 signing key with a kid", k)
	}
	if _, ok := k["d"]; ok {
		t.Fatalf("the JWKS publishes the private part d")
	}
	// The kid is the one the issued apitest.Tokens carry.
	p := a.SignIn("+919812345670")
	if h := tokenHeader(t, p.AccessToken); h["kid"] != k["kid"] || h["alg"] != "ES256" || h["typ"] != "at+jwt" {
		t.Fatalf("token header: got %v, want kid %v, alg ES256, typ at+jwt", h, k["kid"])
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres)
	r := a.Call("GET", "/openapi.yaml", "", nil)
	if r.Status != http.StatusOK || !bytes.HasPrefix(r.Body, []byte("openapi:")) {
		t.Fatalf("got %d %.40q, want 200 and a body starting with openapi:", r.Status, r.Body)
	}
	want, err := os.ReadFile(apitest.SpecPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Body, want) {
		t.Fatalf("the served spec differs from openapi.yaml")
	}
}
