package services_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agency-platform/agency/services"
)

// TestErrors_SentinelsAreDistinct: errors.Is between two different
// sentinels is false, even when they share a code.
func TestErrors_SentinelsAreDistinct(t *testing.T) {
	t.Parallel()
	if errors.Is(services.ErrSessionNotFound, services.ErrUserNotFound) {
		t.Fatal("errors.Is(ErrSessionNotFound, ErrUserNotFound): got true, want false")
	}
	all := services.Sentinels()
	if len(all) < 25 {
		t.Fatalf("sentinels: got %d, want every one declared (25 or more)", len(all))
	}
	for i, a := range all {
		for j, b := range all {
			if got := errors.Is(a, b); got != (i == j) {
				t.Errorf("errors.Is(%s %q, %s %q): got %v, want %v", a.Code, a.Message, b.Code, b.Message, got, i == j)
			}
		}
	}
}

// TestErrors_VariantsKeepIdentity: With, OnField and RetryIn make variants
// that are still their sentinel (and no other), and keep the cause.
func TestErrors_VariantsKeepIdentity(t *testing.T) {
	t.Parallel()
	cause := errors.New("connection reset")
	for name, v := range map[string]*services.Error{
		"with":     services.ErrUserNotFound.With(cause),
		"on_field": services.ErrUserNotFound.OnField("id", "no user with this id"),
		"retry_in": services.ErrUserNotFound.RetryIn(time.Second),
		"chained":  services.ErrUserNotFound.OnField("id", "x").With(cause),
		"wrapped":  services.ErrUserNotFound.With(cause),
	} {
		err := error(v)
		if name == "wrapped" {
			err = errors.Join(errors.New("admin grant"), v)
		}
		if !errors.Is(err, services.ErrUserNotFound) {
			t.Errorf("%s: errors.Is(variant, ErrUserNotFound): got false, want true", name)
		}
		if errors.Is(err, services.ErrSessionNotFound) {
			t.Errorf("%s: errors.Is(variant, ErrSessionNotFound): got true, want false", name)
		}
		if v.Code != services.CodeNotFound {
			t.Errorf("%s: code: got %q, want not_found", name, v.Code)
		}
	}
	if got := services.ErrUserNotFound.With(cause); !errors.Is(got, cause) || got.Unwrap() != cause {
		t.Fatal("With: the cause is not reachable through errors.Is and Unwrap")
	}
	if services.ErrUserNotFound.Unwrap() != nil {
		t.Fatal("With changed the sentinel itself")
	}
}

// TestErrors_EveryCodeDeclaredOnce: each code string appears exactly once
// in the program's hand-written Go code (its declaration in codes.go);
// everything else names the constant.
func TestErrors_EveryCodeDeclaredOnce(t *testing.T) {
	t.Parallel()
	count := map[string]int{}
	for _, c := range services.Codes() {
		count[string(c)] = 0
	}
	where := map[string][]string{}
	root := filepath.Join("..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "ent" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir // generated code (ent/schema is below it but holds no codes)
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if _, isCode := count[s]; err == nil && isCode {
				count[s]++
				where[s] = append(where[s], rel)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for code, n := range count {
		if n != 1 {
			t.Errorf("code %q: got %d string literals (%v), want exactly 1 (its declaration in services/codes.go)", code, n, where[code])
		}
	}
}
