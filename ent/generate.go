// Package ent holds the generated Ent client. Only ent/schema, ent/template
// and this file are written by hand; everything else is produced by
// `go generate ./ent` (template/schemagraph.tmpl writes schemagraph.go, the
// graph that `agency schema viz` draws).
package ent

//go:generate go tool ent generate --feature sql/upsert,sql/lock,sql/modifier,sql/execquery --template ./template/schemagraph.tmpl ./schema
