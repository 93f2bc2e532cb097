// Command agency is the identity and session service of the Agency
// Platform: `agency serve` runs it, the other commands operate it. All of
// the program lives in internal/app; main only hands it the embedded API
// contract and the process's outside world.
package main

import (
	_ "embed"
	"os"

	"github.com/agency-platform/agency/internal/app"
)

// openAPI is the API contract, served at GET /openapi.yaml. It is embedded
// here because it lives at the module root, where readers look for it.
//
//go:embed openapi.yaml
var openAPI []byte

func main() {
	os.Exit(app.Program{OpenAPI: openAPI}.Main(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}
