package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

var (
	durationType  = reflect.TypeFor[time.Duration]()
	stringsType   = reflect.TypeFor[[]string]()
	stringMapType = reflect.TypeFor[map[string]string]()
)

// decodeText is the viper decode hook that turns text (defaults, .env, environment, quoted file
// values) into typed fields. Its errors carry no key: mapstructure wraps them with the field's
// tag, which decodeErrors turns back into the key's name. No secret is a typed field, so the
// values quoted here are never secrets.
func decodeText(from, to reflect.Type, data any) (any, error) {
	if to == durationType {
		return decodeDuration(data)
	}
	s, ok := data.(string)
	if !ok || from.Kind() != reflect.String {
		return data, nil
	}
	switch {
	case to == stringsType:
		return splitList(s), nil
	case to == stringMapType:
		return parsePairs(s)
	case to.Kind() == reflect.Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("invalid boolean %q (want true, false, 1 or 0)", s)
	case to.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("invalid integer %q", s)
		}
		return n, nil
	}
	return data, nil
}

// decodeDuration parses a Go duration ("10m", "720h") or a number of
// days ("400d"). A bare number from a config file is
// refused unless it is 0, because "10" could mean seconds or nanoseconds.
func decodeDuration(data any) (any, error) {
	switch d := data.(type) {
	case time.Duration:
		return d, nil
	case string:
		if days, ok := strings.CutSuffix(strings.TrimSpace(d), "d"); ok {
			if n, err := strconv.Atoi(days); err == nil && n >= 0 {
				return time.Duration(n) * 24 * time.Hour, nil
			}
		}
		parsed, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q", d)
		}
		return parsed, nil
	case int, int64, float64:
		if reflect.ValueOf(d).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("invalid duration %v: give a unit, e.g. \"%vs\"", d, d)
	}
	return data, nil
}

// splitList parses a comma list, trimming blanks and dropping empty entries.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parsePairs parses "k1=v1,k2=v2". Errors point at the entry by position, never by text, since
// a value may be a test code.
func parsePairs(s string) (map[string]string, error) {
	items := splitList(s)
	if len(items) == 0 {
		return nil, nil
	}
	pairs := make(map[string]string, len(items))
	for i, item := range items {
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %d: want NUMBER=CODE", i+1)
		}
		if _, dup := pairs[k]; dup {
			return nil, fmt.Errorf("entry %d: number %s listed twice", i+1, k)
		}
		pairs[k] = v
	}
	return pairs, nil
}

// rejectUnknownKeys makes a misspelt or nested key in the config file an error instead of a
// silently ignored line. Defaults and overrides only ever set known keys.
func rejectUnknownKeys(c *mapstructure.DecoderConfig) { c.ErrorUnused = true }

// decodeErrors rewrites mapstructure's errors as "config: KEY: problem", one line per field.
func decodeErrors(err error) error {
	var out []error
	for _, e := range leafErrors(err) {
		var de *mapstructure.DecodeError
		if !errors.As(e, &de) {
			out = append(out, fmt.Errorf("config: %w", e))
			continue
		}
		if de.Name() == "" {
			msg := strings.TrimPrefix(de.Unwrap().Error(), "has invalid keys: ")
			out = append(out, fmt.Errorf("config: config file has unknown keys: %s", msg))
			continue
		}
		name, _, _ := strings.Cut(de.Name(), "[")
		name = strings.ToUpper(name)
		if secretKey(name) {
			// Secrets are strings and cannot fail to decode; guard against it anyway.
			out = append(out, fmt.Errorf("config: %s: invalid value", name))
			continue
		}
		out = append(out, fmt.Errorf("config: %s: %w", name, de.Unwrap()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Error() < out[j].Error() })
	return errors.Join(out...)
}

// leafErrors flattens mapstructure's error tree (a wrapped errors.Join of DecodeErrors) into
// one error per field.
func leafErrors(err error) []error {
	switch e := err.(type) {
	case *mapstructure.DecodeError:
		return []error{e}
	case interface{ Unwrap() []error }:
		var leaves []error
		for _, inner := range e.Unwrap() {
			leaves = append(leaves, leafErrors(inner)...)
		}
		return leaves
	case interface{ Unwrap() error }:
		if inner := e.Unwrap(); inner != nil {
			return leafErrors(inner)
		}
	}
	return []error{err}
}
