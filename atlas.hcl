# Atlas CLI project file: `atlas migrate diff --env local` and
# `atlas migrate apply --env local` give the same result as
# `agency migrate diff` / `agency migrate apply`.
#
# The official Atlas build reads our schema through an external-schema
# program (our own generator, so PostgreSQL enum types come out right). The
# open-source community build cannot run programs; its env reads the
# committed desired-state file, which `agency migrate diff` regenerates.

variable "dev_url" {
  type        = string
  default     = "docker://postgres/15/dev?search_path=public"
  description = "A clean scratch PostgreSQL database Atlas may create and drop objects in."
}

data "external_schema" "agency" {
  program = ["go", "run", ".", "schema", "sql", "--dialect", "postgres"]
}

env "local" {
  src = data.external_schema.agency.url
  dev = var.dev_url
  url = getenv("DATABASE_URL")
  migration {
    dir = "file://migrations/postgres"
    # Where `agency migrate apply` records history too, whatever search_path the URL has.
    revisions_schema = "atlas_schema_revisions"
  }
}

env "community" {
  src = "file://migrations/desired/postgres.sql"
  dev = var.dev_url
  url = getenv("DATABASE_URL")
  migration {
    dir              = "file://migrations/postgres"
    revisions_schema = "atlas_schema_revisions"
  }
}

# The embedded default (SQLite). URL example: sqlite://data/agency.db?_fk=1
env "sqlite" {
  src = "file://migrations/desired/sqlite.sql"
  dev = "sqlite://dev?mode=memory&_fk=1"
  url = getenv("DATABASE_URL")
  migration {
    dir = "file://migrations/sqlite"
  }
}
