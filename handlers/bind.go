package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// hasBody reports whether the request carries a body at all.
func hasBody(c *gin.Context) bool {
	return c.Request.ContentLength > 0 || len(c.Request.TransferEncoding) > 0
}

// bindJSON decodes the body strictly into dst: JSON content type, no
// unknown fields, no wrong types, no trailing data, within the size cap.
// Errors name the field; it writes the error response and returns false.
func bindJSON(c *gin.Context, dst any) bool {
	if err := decodeJSON(c.Request, dst); err != nil {
		writeError(c, err)
		return false
	}
	return true
}

// decodeJSON decodes one JSON object into dst, a pointer to a request
// struct, strictly: keys match the struct's json names exactly (case
// included), no key twice, no unknown key, values of the right JSON type
// and valid UTF-8, nothing after the object. Errors speak of JSON, never
// of Go types.
func decodeJSON(r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errUnsupportedMedia
	}
	fields := jsonFields(dst)
	dec := json.NewDecoder(r.Body)
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return invalidRequest("", "the body must be a JSON object")
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		if err := decodeMember(dec, fields, seen); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		return invalidRequest("", "the body must hold exactly one JSON object")
	}
	return nil
}

// decodeMember reads one "key": value pair of the body into its field.
func decodeMember(dec *json.Decoder, fields map[string]reflect.Value, seen map[string]bool) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	key, _ := tok.(string)
	f, known := fields[key]
	switch {
	case seen[key]:
		return invalidRequest(key, "field "+key+" appears more than once")
	case !known:
		return invalidRequest(key, "unknown field "+key)
	}
	seen[key] = true
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return jsonError(err)
	}
	if !utf8.Valid(raw) {
		return invalidRequest(key, "field "+key+" is not valid UTF-8")
	}
	if err := json.Unmarshal(raw, f.Addr().Interface()); err != nil {
		return invalidRequest(key, "field "+key+" must be "+jsonType(f.Type()))
	}
	return nil
}

// jsonFields maps the json names of the struct dst points to to its fields.
func jsonFields(dst any) map[string]reflect.Value {
	v := reflect.ValueOf(dst).Elem()
	fields := make(map[string]reflect.Value, v.NumField())
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = v.Field(i)
		}
	}
	return fields
}

// jsonType names the JSON type a Go field takes, for error messages.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array"
	}
	return "an object"
}

// jsonError turns a failure to read the body into a client error.
func jsonError(err error) error {
	var (
		syntax *json.SyntaxError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return errBodyTooLarge
	case errors.Is(err, io.EOF):
		return invalidRequest("", "the body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidRequest("", "the body is not valid JSON")
	}
	return invalidRequest("", "the body could not be read as a JSON object")
}

// field is a named request field, for requireFields.
type field struct {
	name  string
	value *string
}

// requireFields answers 400 naming the first absent field, in the order
// given, and reports whether all were present.
func requireFields(c *gin.Context, fields ...field) bool {
	for _, f := range fields {
		if f.value == nil {
			writeError(c, invalidRequest(f.name, "field "+f.name+" is required"))
			return false
		}
	}
	return true
}
