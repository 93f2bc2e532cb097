# The README's commands. `make test` is what CI runs.
GO ?= go

.PHONY: run build test bench fuzz generate check-generated screenshots lint-openapi client check-client

run:
	$(GO) run . serve

build:
	$(GO) build -o bin/agency .

test:
	$(GO) vet ./...
	$(GO) test -count=1 -parallel 8 ./...

# Lint openapi.yaml with Redocly CLI's recommended rules (clients/redocly.yaml;
# tools pinned in clients/package-lock.json).
lint-openapi:
	cd clients && { test -d node_modules || npm ci --no-audit --no-fund; } && npx --no-install redocly lint --config redocly.yaml ../openapi.yaml

# Regenerate the TypeScript client's types (clients/ts/schema.d.ts) from
# openapi.yaml with openapi-typescript; commit the result.
client:
	cd clients && { test -d node_modules || npm ci --no-audit --no-fund; } && npx --no-install openapi-typescript ../openapi.yaml -o ts/schema.d.ts

# Fails when regenerating the client changes a file in clients/, then
# type-checks the client and its sample (tsc --noEmit, strict).
check-client: client
	git status --porcelain -- clients
	test -z "$$(git status --porcelain -- clients)"
	cd clients && npx --no-install tsc --noEmit -p ts/tsconfig.json

# The browser tests (real headless Chromium), saving their screenshots
# (docs, console signed in, ...) to docs/screenshots/.
screenshots:
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'Browser' ./handlers ./internal/browsertest

# Fuzz each target for FUZZTIME; `make test` replays their seed corpora
# (f.Add seeds and testdata/fuzz). A failure writes its input to
# testdata/fuzz: commit it with the fix, and it is replayed from then on.
FUZZTIME ?= 20s
FUZZ = FuzzNormalize:./internal/phone FuzzDecodeJSON:./handlers FuzzParseBearer:./handlers \
	FuzzVerify_Mutations:./internal/accesstoken FuzzVerify_Garbage:./internal/accesstoken \
	FuzzParseRefreshToken:./services FuzzClassify:./internal/facebook
fuzz:
	@for t in $(FUZZ); do \
		echo "fuzz $${t%%:*} ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:} || exit 1; \
	done

# Hot-path benchmarks over HTTP on PostgreSQL (compare medians, not single runs).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s -count 5 ./handlers

# Regenerate Ent code (after editing ent/schema) and write a migration for the change:
#   make generate NAME=add_something
generate:
	$(GO) generate ./ent
	$(GO) run . migrate diff $(or $(NAME),change)

# Fails when regenerating Ent code or migrations changes a tracked file.
check-generated:
	$(GO) generate ./ent
	$(GO) run . migrate diff ci_check
	git status --porcelain -- ent migrations
	test -z "$$(git status --porcelain -- ent migrations)"
