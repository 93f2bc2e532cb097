# The README's commands. `make test` is what CI runs.
GO ?= go

.PHONY: run build build-server test test-slow soak bench bench-go profile fuzz generate check-generated screenshots lint-openapi client check-client

run:
	$(GO) run . serve

build:
	$(GO) build -o bin/agency .

# The production build, as the Dockerfile makes it: without Graphviz (no
# /schema page or HTML diagram; Mermaid and text remain), 15 MB less memory.
build-server:
	$(GO) build -tags nographviz -o bin/agency-server .

test:
	$(GO) vet ./...
	$(GO) vet -tags nographviz ./internal/schemaviz ./internal/app
	$(GO) test -count=1 -parallel 8 ./...

# The deployment tests (internal/deploytest, build tag slow): the real
# binary started several times against PostgreSQL clusters of their own
# (initdb on free ports, never the shared server), with a streaming standby
# and PgBouncer (transaction pooling) where a test needs them: invariants
# across instances, failover, kill -9. About 2 minutes; .ci/run runs it.
test-slow:
	$(GO) vet -tags slow ./internal/deploytest
	$(GO) test -tags slow -count=1 -timeout 20m -v ./internal/deploytest

# Ten minutes of the mixed load against one instance, sampling goroutines,
# database connections and RSS; writes its figures to bench/results.md.
SOAK_DURATION ?= 10m
soak:
	SOAK_DURATION=$(SOAK_DURATION) SOAK_RESULTS=$(CURDIR)/bench/results.md $(GO) test -tags slow -count=1 -timeout 30m -v -run 'TestSoak' ./internal/deploytest

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

# The load suite (agency bench suite): agency serve on a fresh PostgreSQL
# database, every scenario at concurrency 16 and 64, pgbench ceilings of the
# hot paths' SQL in the same run; writes bench/results.md (about 4 minutes).
# The server is the production build (build-server).
bench: build build-server
	./bin/agency bench suite --binary bin/agency-server --out bench/results.md

# A CPU profile of the server during one scenario (SCENARIO=me, refresh,
# verify, signin-storm or mixed), written to bench/cpu-$(SCENARIO).pprof.
SCENARIO ?= me
profile: build build-server
	./bin/agency bench suite --binary bin/agency-server --scenarios $(SCENARIO) --concurrency 16 --duration 20s --users 500 --out "" --profile bench/cpu-$(SCENARIO).pprof
	$(GO) tool pprof -top -nodecount=30 bin/agency-server bench/cpu-$(SCENARIO).pprof

# Go benchmarks (-benchmem): token signing and verification, refresh-token
# derivation, phone parsing, JSON of the profile, and the hot paths over
# HTTP in-process (compare medians, not single runs).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./internal/accesstoken ./internal/phone ./services ./handlers

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
