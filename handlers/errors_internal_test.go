package handlers

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/agency-platform/agency/services"
)

// codeRow is a row of openapi.yaml's "Error codes" table: | `code` | status |
var codeRow = regexp.MustCompile("(?m)^\\s*\\| `([a-z_]+)` \\| ([0-9]{3}) \\|")

// TestErrorCodes_MatchOpenAPI: the codes of services.Codes are exactly the
// ones openapi.yaml documents, and every error the program declares answers
// with the status the table gives its code.
func TestErrorCodes_MatchOpenAPI(t *testing.T) {
	t.Parallel()
	spec, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[services.Code]int{}
	var order []services.Code
	for _, m := range codeRow.FindAllStringSubmatch(string(spec), -1) {
		status, _ := strconv.Atoi(m[2])
		documented[services.Code(m[1])] = status
		order = append(order, services.Code(m[1]))
	}
	if !slices.Equal(order, services.Codes()) {
		t.Fatalf("error codes: openapi.yaml documents %v, services.Codes() lists %v; want the same list in the same order", order, services.Codes())
	}
	for _, e := range services.Sentinels() {
		if got, want := statusByKind[e.Kind], documented[e.Code]; got != want {
			t.Errorf("%s (%q): answers %d, openapi.yaml documents %d", e.Code, e.Message, got, want)
		}
	}
}

// TestStatusByKind_CoversEveryKind: no service kind falls through to 500.
func TestStatusByKind_CoversEveryKind(t *testing.T) {
	t.Parallel()
	for _, k := range services.Kinds() {
		if statusByKind[k] == 0 {
			t.Errorf("kind %d has no status", k)
		}
	}
}
