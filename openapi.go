package main

import _ "embed"

// openAPISpec is the API contract, served at GET /openapi.yaml.
//
//go:embed openapi.yaml
var openAPISpec []byte
