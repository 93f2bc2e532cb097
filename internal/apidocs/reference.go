package apidocs

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

// reference is what the page shows: the contract, grouped by tag.
type reference struct {
	Title, Version string
	Intro          template.HTML
	Tags           []*tagGroup
	Count          int // operations
}

type tagGroup struct {
	Name, ID    string
	Description template.HTML
	Ops         []*operation
}

type operation struct {
	ID, Method, Path, Summary string
	Description               template.HTML
	Deprecated                bool
	Auth                      string // "Bearer token", "Public", ...
	Public                    bool
	Params                    []field
	Body                      *payload
	Responses                 []response
	Search                    string // lower-case words the search box matches
}

// payload is a request or response body: its media type and its fields
// flattened (nested ones named a.b, array items a[].b).
type payload struct {
	MediaType, Type string
	Required        bool
	Fields          []field
}

type field struct {
	Name, In, Type     string
	Depth              int
	Required, Nullable bool
	Description        template.HTML
	Notes              []string // enum, default, limits, example
}

type response struct {
	Status      string
	Class       string // ok, redirect, error
	Description template.HTML
	Codes       []string // the error codes it names
	Body        *payload // success bodies only; every error has the Error shape
}

// methods is the order of operations within a path.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}

// maxDepth bounds how deep nested schemas are flattened.
const maxDepth = 4

// build parses the contract (resolving its $refs, without validating it:
// the page shows whatever the document says) into the page's content.
func build(spec []byte) (*reference, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("parse the contract: %w", err)
	}
	if err := loader.ResolveRefsIn(doc, nil); err != nil {
		return nil, fmt.Errorf("resolve the contract's references: %w", err)
	}
	_ = doc.Validate(context.Background()) // not needed to render; the tests validate
	ref := &reference{}
	if doc.Info != nil {
		ref.Title, ref.Version, ref.Intro = doc.Info.Title, doc.Info.Version, markdown(doc.Info.Description)
	}
	codes := knownCodes(doc)
	groups := map[string]*tagGroup{}
	for _, t := range doc.Tags {
		g := &tagGroup{Name: t.Name, ID: "tag-" + slug(t.Name), Description: markdown(t.Description)}
		groups[t.Name] = g
		ref.Tags = append(ref.Tags, g)
	}
	for _, path := range pathOrder(spec, doc) {
		item := doc.Paths.Value(path)
		for _, m := range methods {
			op := item.GetOperation(m)
			if op == nil {
				continue
			}
			o := newOperation(doc, path, m, item, op, codes)
			tag := "other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			g := groups[tag]
			if g == nil {
				g = &tagGroup{Name: tag, ID: "tag-" + slug(tag)}
				groups[tag] = g
				ref.Tags = append(ref.Tags, g)
			}
			g.Ops = append(g.Ops, o)
			o.Search = strings.ToLower(strings.Join([]string{m, path, op.Summary, op.OperationID, tag}, " "))
			ref.Count++
		}
	}
	ref.Tags = slices.DeleteFunc(ref.Tags, func(g *tagGroup) bool { return len(g.Ops) == 0 })
	return ref, nil
}

func newOperation(doc *openapi3.T, path, method string, item *openapi3.PathItem, op *openapi3.Operation, codes map[string]bool) *operation {
	o := &operation{
		ID: "op-" + slug(cmp.Or(op.OperationID, method+" "+path)), Method: method, Path: path,
		Summary: op.Summary, Description: markdown(op.Description), Deprecated: op.Deprecated,
	}
	o.Auth, o.Public = security(doc, op)
	for _, p := range append(slices.Clone(item.Parameters), op.Parameters...) {
		if p == nil || p.Value == nil {
			continue
		}
		f := schemaField(p.Value.Name, p.Value.Schema, 0, p.Value.Required)
		f.In, f.Description = p.Value.In, markdown(cmp.Or(p.Value.Description, descriptionOf(p.Value.Schema)))
		o.Params = append(o.Params, f)
	}
	if rb := op.RequestBody; rb != nil && rb.Value != nil {
		o.Body = newPayload(rb.Value.Content)
		if o.Body != nil {
			o.Body.Required = rb.Value.Required
		}
	}
	if op.Responses != nil {
		statuses := make([]string, 0, op.Responses.Len())
		for s := range op.Responses.Map() {
			statuses = append(statuses, s)
		}
		slices.Sort(statuses)
		for _, s := range statuses {
			o.Responses = append(o.Responses, newResponse(s, op.Responses.Value(s), codes))
		}
	}
	return o
}

func newResponse(status string, ref *openapi3.ResponseRef, codes map[string]bool) response {
	r := response{Status: status, Class: "error"}
	switch {
	case strings.HasPrefix(status, "2"), strings.HasPrefix(status, "1"):
		r.Class = "ok"
	case strings.HasPrefix(status, "3"):
		r.Class = "redirect"
	}
	if ref == nil || ref.Value == nil {
		return r
	}
	desc := ""
	if ref.Value.Description != nil {
		desc = *ref.Value.Description
	}
	r.Description = markdown(desc)
	if r.Class != "error" {
		r.Body = newPayload(ref.Value.Content)
		return r
	}
	r.Codes = errorCodes(desc, ref.Value.Content, codes)
	return r
}

// newPayload describes the first media type of content (JSON first).
func newPayload(content openapi3.Content) *payload {
	if len(content) == 0 {
		return nil
	}
	types := make([]string, 0, len(content))
	for t := range content {
		types = append(types, t)
	}
	notJSON := func(t string) int {
		if strings.Contains(t, "json") {
			return 0
		}
		return 1
	}
	slices.SortFunc(types, func(a, b string) int { return cmp.Or(cmp.Compare(notJSON(a), notJSON(b)), cmp.Compare(a, b)) })
	mt := content[types[0]]
	p := &payload{MediaType: strings.Join(types, ", ")}
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return p
	}
	p.Type = typeLabel(mt.Schema)
	s := mt.Schema.Value
	prefix := ""
	if s.Type.Is("array") && s.Items != nil && s.Items.Value != nil {
		s, prefix = s.Items.Value, "[]."
	}
	p.Fields = properties(s, prefix, 0, map[*openapi3.Schema]bool{})
	return p
}

// properties flattens an object's properties: the required ones in the
// order the schema lists them, then the rest by name; nested objects and
// arrays of objects follow their parent, one level deeper.
func properties(s *openapi3.Schema, prefix string, depth int, seen map[*openapi3.Schema]bool) []field {
	if s == nil || len(s.Properties) == 0 || depth >= maxDepth || seen[s] {
		return nil
	}
	seen[s] = true
	defer delete(seen, s)
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	rank := func(n string) int {
		if i := slices.Index(s.Required, n); i >= 0 {
			return i
		}
		return len(s.Required)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b)) })
	var out []field
	for _, n := range names {
		ref := s.Properties[n]
		out = append(out, schemaField(prefix+n, ref, depth, slices.Contains(s.Required, n)))
		if ref == nil || ref.Value == nil {
			continue
		}
		child, childPrefix := ref.Value, prefix+n+"."
		if child.Type.Is("array") && child.Items != nil && child.Items.Value != nil {
			child, childPrefix = child.Items.Value, prefix+n+"[]."
		}
		out = append(out, properties(child, childPrefix, depth+1, seen)...)
	}
	return out
}

// schemaField describes one property or parameter.
func schemaField(name string, ref *openapi3.SchemaRef, depth int, required bool) field {
	f := field{Name: name, Depth: depth, Required: required}
	if ref == nil || ref.Value == nil {
		return f
	}
	s := ref.Value
	f.Type, f.Nullable, f.Description = typeLabel(ref), s.Nullable || s.Type.IncludesNull(), markdown(s.Description)
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = scalar(v)
		}
		f.Notes = append(f.Notes, "one of: "+strings.Join(vals, ", "))
	}
	if s.Default != nil {
		f.Notes = append(f.Notes, "default: "+scalar(s.Default))
	}
	f.Notes = append(f.Notes, limits(s)...)
	if s.Example != nil {
		f.Notes = append(f.Notes, "example: "+scalar(s.Example))
	}
	return f
}

// limits are a schema's constraints in words.
func limits(s *openapi3.Schema) []string {
	var out []string
	if s.MinLength > 0 {
		out = append(out, fmt.Sprintf("at least %d characters", s.MinLength))
	}
	if s.MaxLength != nil {
		out = append(out, fmt.Sprintf("at most %d characters", *s.MaxLength))
	}
	if s.Min != nil {
		out = append(out, "minimum "+strconv.FormatFloat(*s.Min, 'f', -1, 64))
	}
	if s.Max != nil {
		out = append(out, "maximum "+strconv.FormatFloat(*s.Max, 'f', -1, 64))
	}
	if s.Pattern != "" {
		out = append(out, "pattern "+s.Pattern)
	}
	return out
}

// typeLabel is a schema's type as a reader wants it: "string (uuid)",
// "array of Session", "TokenPair".
func typeLabel(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Value == nil {
		return ""
	}
	if name := refName(ref.Ref); name != "" {
		return name
	}
	s := ref.Value
	if s.Type.Is("array") && s.Items != nil {
		return "array of " + cmp.Or(typeLabel(s.Items), "any")
	}
	t := strings.Join(slices.DeleteFunc(s.Type.Slice(), func(t string) bool { return t == "null" }), " | ")
	if t == "" {
		switch {
		case len(s.OneOf) > 0, len(s.AnyOf) > 0:
			t = "one of several"
		case len(s.AllOf) > 0:
			t = "all of several"
		default:
			t = "any"
		}
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	return t
}

// refName is the component a $ref names ("#/components/schemas/User" →
// "User").
func refName(ref string) string {
	if ref == "" {
		return ""
	}
	return ref[strings.LastIndex(ref, "/")+1:]
}

func descriptionOf(ref *openapi3.SchemaRef) string {
	if ref == nil || ref.Value == nil {
		return ""
	}
	return ref.Value.Description
}

// scalar formats an enum value, default or example.
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return "null"
	case map[string]any, []any:
		b, _ := yaml.Marshal(v)
		return strings.TrimSpace(string(b))
	}
	return fmt.Sprint(v)
}

// security is who may call op: the schemes of its security requirements
// (or the document's), "Public" when none, "(optional)" when one
// requirement is empty.
func security(doc *openapi3.T, op *openapi3.Operation) (string, bool) {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var names []string
	anonymous := len(reqs) == 0
	for _, req := range reqs {
		if len(req) == 0 {
			anonymous = true
		}
		keys := make([]string, 0, len(req))
		for k := range req {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if l := schemeLabel(doc, k); !slices.Contains(names, l) {
				names = append(names, l)
			}
		}
	}
	switch {
	case len(names) == 0:
		return "Public", true
	case anonymous:
		return strings.Join(names, " or ") + " (optional)", true
	}
	return strings.Join(names, " or "), false
}

func schemeLabel(doc *openapi3.T, name string) string {
	if doc.Components == nil || doc.Components.SecuritySchemes[name] == nil || doc.Components.SecuritySchemes[name].Value == nil {
		return name
	}
	s := doc.Components.SecuritySchemes[name].Value
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		return "Bearer token"
	case s.Type == "http":
		return "HTTP " + s.Scheme
	case s.Type == "apiKey":
		return "API key (" + s.In + " " + s.Name + ")"
	}
	return name
}

var (
	// codeRowRe finds the rows of the error-code table in info.description:
	// | `code` | status | meaning |
	codeRowRe  = regexp.MustCompile("(?m)^\\|\\s*`([a-z][a-z0-9_]*)`\\s*\\|\\s*\\d{3}\\s*\\|")
	codeSpanRe = regexp.MustCompile("`([a-z][a-z0-9_]*)`")
)

// knownCodes are the error codes the contract's table lists.
func knownCodes(doc *openapi3.T) map[string]bool {
	codes := map[string]bool{}
	if doc.Info != nil {
		for _, m := range codeRowRe.FindAllStringSubmatch(doc.Info.Description, -1) {
			codes[m[1]] = true
		}
	}
	return codes
}

// errorCodes are the codes an error response names: the known codes its
// description quotes, and the code of its example.
func errorCodes(desc string, content openapi3.Content, known map[string]bool) []string {
	var out []string
	for _, m := range codeSpanRe.FindAllStringSubmatch(desc, -1) {
		if known[m[1]] && !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	for _, mt := range content {
		if mt == nil {
			continue
		}
		if e, ok := mt.Example.(map[string]any)["error"].(map[string]any); ok {
			if c, ok := e["code"].(string); ok && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

// pathOrder is the paths in the order the document lists them (the
// parsed document keeps them in a map), any it misses sorted at the end.
func pathOrder(spec []byte, doc *openapi3.T) []string {
	var order []string
	var root struct {
		Paths yaml.Node `yaml:"paths"`
	}
	if yaml.Unmarshal(spec, &root) == nil && root.Paths.Kind == yaml.MappingNode {
		for i := 0; i < len(root.Paths.Content); i += 2 {
			order = append(order, root.Paths.Content[i].Value)
		}
	}
	var rest []string
	if doc.Paths != nil {
		for p := range doc.Paths.Map() {
			if !slices.Contains(order, p) {
				rest = append(rest, p)
			}
		}
	}
	slices.Sort(rest)
	order = slices.DeleteFunc(order, func(p string) bool { return doc.Paths == nil || doc.Paths.Value(p) == nil })
	return append(order, rest...)
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes an anchor id from a name.
func slug(s string) string {
	return strings.Trim(slugRe.ReplaceAllString(strings.ToLower(s), "-"), "-")
}
