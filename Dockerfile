# Build stage: compile a static binary (pure-Go SQLite driver, migrations embedded).
FROM golang:1.26-bookworm AS build
WORKDIR /src

# Download modules in their own layer so source edits do not refetch them.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
# -tags nographviz leaves out the schema diagram's Graphviz (WebAssembly,
# about 15 MB resident in every process); Mermaid and text still work.
RUN CGO_ENABLED=0 go build -tags nographviz -trimpath -ldflags="-s -w" -o /out/agency .

# Runtime stage: no shell, no package manager, runs as an unprivileged user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/agency /agency

# Without DATABASE_URL the server uses embedded SQLite; /tmp is the only writable
# directory here. docker-compose.yml sets DATABASE_URL and uses PostgreSQL instead.
ENV SQLITE_PATH=/tmp/agency.db

USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/agency"]
CMD ["serve"]
