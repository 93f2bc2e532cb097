package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

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

func decodeJSON(r *http.Request, dst any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errUnsupportedMedia
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
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

// jsonError turns a decoding failure into a client error naming the field.
func jsonError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return errBodyTooLarge
	case errors.Is(err, io.EOF):
		return invalidRequest("", "the body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidRequest("", "the body is not valid JSON")
	case errors.As(err, &typ):
		return invalidRequest(typ.Field, "field "+typ.Field+" must be of type "+typ.Type.String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalidRequest(field, "unknown field "+field)
	}
	return invalidRequest("", "the body could not be read as the expected JSON object")
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
