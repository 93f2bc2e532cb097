// Package ent holds the generated Ent client. Only ent/schema and this
// file are written by hand; everything else is produced by `go generate ./ent`.
package ent

//go:generate go tool ent generate --feature sql/upsert,sql/lock,sql/modifier,sql/execquery ./schema
