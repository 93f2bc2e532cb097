// Package apitest validates HTTP exchanges against openapi.yaml so the spec cannot drift from the code.
//
// HTTP tests load the spec once and pass every response they receive to
// CheckResponse:
//
//	spec := apitest.Load(t, "../openapi.yaml")
//	...
//	spec.CheckResponse(t, req, res.StatusCode, res.Header, body)
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// maxBodyInError caps how much of a response body a failure message quotes.
const maxBodyInError = 500

// Spec is a loaded, validated OpenAPI document and the router that maps a
// request to its operation. It is safe for concurrent use.
type Spec struct {
	path   string
	doc    *openapi3.T
	router routers.Router
}

// specs caches loaded documents by absolute path, so every test of a binary
// shares one load (tests of one package may each call Load).
var (
	specsMu sync.Mutex
	specs   = map[string]*Spec{}
)

// Load reads and validates the spec at path (relative to the test's package
// directory, e.g. "../openapi.yaml") and fails the test if it cannot. The
// result is cached by path.
func Load(t testing.TB, path string) *Spec {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatalf("apitest: resolve %s: %v", path, err)
	}
	specsMu.Lock()
	defer specsMu.Unlock()
	if s, ok := specs[abs]; ok {
		return s
	}
	s, err := load(abs)
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	specs[abs] = s
	return s
}

// load reads, validates and routes the document at path.
func load(path string) (*Spec, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	// Match on the path alone: tests talk to httptest servers on random
	// hosts, which no servers entry would match.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", path, err)
	}
	return &Spec{path: path, doc: doc, router: router}, nil
}

// CheckResponse validates one exchange: it finds the operation for req's
// method and path (scheme, host and query are ignored) and validates the
// response's status, documented headers and body (JSON Schema, with
// additionalProperties false enforced) against it. An undocumented route or
// status, or a response that does not match, is reported with t.Errorf.
//
// The request itself is not validated: tests send invalid requests on
// purpose. Bodies that are not JSON are checked only for a documented media
// type, not against their schema.
func (s *Spec) CheckResponse(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := s.check(req, status, header, body); err != nil {
		t.Errorf("apitest: %s %s -> %d does not match %s: %v\nbody: %s",
			req.Method, req.URL.Path, status, filepath.Base(s.path), err, truncate(body, maxBodyInError))
	}
}

// check returns why the exchange breaks the contract, or nil.
func (s *Spec) check(req *http.Request, status int, header http.Header, body []byte) error {
	if header == nil {
		header = http.Header{}
	}
	// Route on a copy of the request without scheme and host.
	r := req.Clone(context.Background())
	r.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	r.Host = ""
	route, pathParams, err := s.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("route not documented: %w", err)
	}

	opts := &openapi3filter.Options{
		ExcludeRequestBody:        true,
		ExcludeRequestQueryParams: true,
		IncludeResponseStatus:     true,
		MultiError:                true,
		AuthenticationFunc:        openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			// The failure quotes the body already; kin's dump of the
			// schema and value would bury the reason.
			openapi3.DisableSchemaErrorDetails(),
			openapi3.WithStringFormatValidator("uuid",
				openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)),
		},
	}
	if err := checkMediaType(route, status, header, body); err != nil {
		return err
	}
	if !isJSON(header.Get("Content-Type")) {
		// kin decodes YAML and text into values that a `type: string`
		// schema rejects; checkMediaType has covered what can be checked.
		opts.ExcludeResponseBody = true
	}

	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: pathParams,
			Route:      route,
			Options:    opts,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: opts,
	}
	return openapi3filter.ValidateResponse(context.Background(), input)
}

// checkMediaType reports a body where the documented response has none, and
// a body whose media type the documented response does not list. kin-openapi
// accepts both silently when the response has no content.
func checkMediaType(route *routers.Route, status int, header http.Header, body []byte) error {
	ref := route.Operation.Responses.Status(status)
	if ref == nil {
		ref = route.Operation.Responses.Default()
	}
	if ref == nil || ref.Value == nil {
		return nil // ValidateResponse reports the undocumented status.
	}
	content := ref.Value.Content
	if len(content) == 0 {
		if len(body) > 0 {
			return errors.New("response has a body, but the documented response has none")
		}
		return nil
	}
	if ct := header.Get("Content-Type"); content.Get(ct) == nil {
		return fmt.Errorf("response Content-Type %q is not documented (want one of %s)",
			ct, strings.Join(mediaTypes(content), ", "))
	}
	return nil
}

// mediaTypes lists the documented media types, sorted.
func mediaTypes(content openapi3.Content) []string {
	keys := make([]string, 0, len(content))
	for k := range content {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// isJSON reports whether a Content-Type is JSON (application/json or a
// +json suffix type).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// truncate returns at most n bytes of b, marking a cut.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + fmt.Sprintf("… (%d bytes in all)", len(b))
}
