// Package migrations embeds the versioned migration directories (Atlas SQL
// files plus atlas.sum) so the binary applies exactly what is committed.
// Files here are written by `agency migrate diff`; a merged file is never edited.
package migrations

import "embed"

// FS holds postgres/ and sqlite/, each an Atlas migration directory.
//
//go:embed postgres sqlite
var FS embed.FS
