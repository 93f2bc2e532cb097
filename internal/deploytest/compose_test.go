package deploytest

import (
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The deployment files live at the module root, two levels above this package.
const (
	composePath    = "../../docker-compose.yml"
	dockerfilePath = "../../Dockerfile"
)

// compose is the part of the Compose file format these tests read. Fields that Compose
// accepts in two shapes (list or map) are kept as any and normalised by helpers.
type compose struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
	Version  string             `yaml:"version"`
}

type service struct {
	Image         string         `yaml:"image"`
	Profiles      []string       `yaml:"profiles"`
	ContainerName string         `yaml:"container_name"`
	Build         any            `yaml:"build"`
	Environment   any            `yaml:"environment"`
	Ports         []string       `yaml:"ports"`
	Volumes       []string       `yaml:"volumes"`
	DependsOn     map[string]any `yaml:"depends_on"`
	Command       []string       `yaml:"command"`
	Restart       string         `yaml:"restart"`
	Healthcheck   struct {
		Test     any    `yaml:"test"`
		Interval string `yaml:"interval"`
		Timeout  string `yaml:"timeout"`
		Retries  int    `yaml:"retries"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) compose {
	t.Helper()
	data, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("parse %s: %v", composePath, err)
	}
	return c
}

func mustService(t *testing.T, c compose, name string) service {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("services: got no %q, want one", name)
	}
	return s
}

// env returns a service's environment whether written as a map or as KEY=value entries.
func env(t *testing.T, s service) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch e := s.Environment.(type) {
	case map[string]any:
		for k, v := range e {
			out[k] = strings.TrimSpace(yamlScalar(v))
		}
	case []any:
		for _, entry := range e {
			k, v, _ := strings.Cut(yamlScalar(entry), "=")
			out[k] = v
		}
	case nil:
	default:
		t.Fatalf("environment: got %T, want a map or a list", e)
	}
	return out
}

func yamlScalar(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}

func TestCompose(t *testing.T) {
	t.Parallel()
	c := readCompose(t)

	t.Run("no_obsolete_version", func(t *testing.T) {
		if c.Version != "" {
			t.Errorf("version: got %q, want none (obsolete in Compose v2)", c.Version)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		pg := mustService(t, c, "postgres")
		image, tag, _ := strings.Cut(pg.Image, ":")
		if major, _, _ := strings.Cut(tag, "."); image != "postgres" || strings.TrimSuffix(major, "-alpine") != "15" {
			t.Errorf("image: got %q, want postgres major version 15", pg.Image)
		}
		if pg.ContainerName != "agency_platform_db" {
			t.Errorf("container_name: got %q, want %q", pg.ContainerName, "agency_platform_db")
		}
		wantEnv := map[string]string{"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres", "POSTGRES_DB": "agency_platform"}
		gotEnv := env(t, pg)
		for k, want := range wantEnv {
			if got := gotEnv[k]; got != want {
				t.Errorf("environment %s: got %q, want %q", k, got, want)
			}
		}
		if !slices.Contains(pg.Ports, "5432:5432") {
			t.Errorf("ports: got %v, want 5432:5432", pg.Ports)
		}
		if !slices.Contains(pg.Volumes, "postgres_data:/var/lib/postgresql/data") {
			t.Errorf("volumes: got %v, want postgres_data:/var/lib/postgresql/data", pg.Volumes)
		}
		if _, ok := c.Volumes["postgres_data"]; !ok {
			t.Errorf("top-level volumes: got %v, want postgres_data declared", c.Volumes)
		}
		hc := pg.Healthcheck
		if test := yamlScalar(hc.Test); !strings.Contains(test, "pg_isready -U postgres -d agency_platform") {
			t.Errorf("healthcheck test: got %s, want pg_isready -U postgres -d agency_platform", test)
		}
		if hc.Interval == "" || hc.Timeout == "" || hc.Retries < 1 {
			t.Errorf("healthcheck: got interval %q timeout %q retries %d, want all set", hc.Interval, hc.Timeout, hc.Retries)
		}
		if pg.Restart != "unless-stopped" {
			t.Errorf("restart: got %q, want unless-stopped", pg.Restart)
		}
	})

	t.Run("agency", func(t *testing.T) {
		app := mustService(t, c, "agency")
		if app.Build == nil {
			t.Errorf("build: got none, want the Dockerfile")
		}
		dep, _ := app.DependsOn["postgres"].(map[string]any)
		if got := dep["condition"]; got != "service_healthy" {
			t.Errorf("depends_on postgres condition: got %v, want service_healthy", got)
		}
		gotEnv := env(t, app)
		u, err := url.Parse(gotEnv["DATABASE_URL"])
		if err != nil || u.Scheme != "postgres" || u.Hostname() != "postgres" || u.Path != "/agency_platform" {
			t.Errorf("DATABASE_URL: got %q, want postgres://...@postgres:5432/agency_platform", gotEnv["DATABASE_URL"])
		}
		if got := gotEnv["HTTP_ADDR"]; got != ":8080" {
			t.Errorf("HTTP_ADDR: got %q, want %q", got, ":8080")
		}
		if !slices.Contains(app.Ports, "8080:8080") {
			t.Errorf("ports: got %v, want 8080:8080", app.Ports)
		}
		if !slices.Equal(app.Command, []string{"serve"}) {
			t.Errorf("command: got %v, want [serve]", app.Command)
		}
	})
}

// TestCompose_PgBouncerProfile checks the optional PgBouncer stack: it only starts with
// --profile pgbouncer, and its server sends requests through PgBouncer but migrates directly.
func TestCompose_PgBouncerProfile(t *testing.T) {
	t.Parallel()
	c := readCompose(t)
	const profile = "pgbouncer"

	t.Run("profiles", func(t *testing.T) {
		for _, name := range []string{"pgbouncer", "agency-pooled"} {
			if s := mustService(t, c, name); !slices.Equal(s.Profiles, []string{profile}) {
				t.Errorf("%s profiles: got %v, want [%s]", name, s.Profiles, profile)
			}
		}
		// Without a profile `docker compose up` starts what it always did.
		for _, name := range []string{"postgres", "agency"} {
			if s := mustService(t, c, name); len(s.Profiles) != 0 {
				t.Errorf("%s profiles: got %v, want none", name, s.Profiles)
			}
		}
	})

	t.Run("pgbouncer", func(t *testing.T) {
		gotEnv := env(t, mustService(t, c, "pgbouncer"))
		if got := gotEnv["POOL_MODE"]; got != "transaction" {
			t.Errorf("POOL_MODE: got %q, want transaction", got)
		}
		// lib/pq sends extra_float_digits at startup; PgBouncer refuses unknown parameters.
		params := strings.Split(gotEnv["IGNORE_STARTUP_PARAMETERS"], ",")
		for i := range params {
			params[i] = strings.TrimSpace(params[i])
		}
		if !slices.Contains(params, "extra_float_digits") {
			t.Errorf("IGNORE_STARTUP_PARAMETERS: got %q, want extra_float_digits in it", gotEnv["IGNORE_STARTUP_PARAMETERS"])
		}
	})

	t.Run("agency-pooled", func(t *testing.T) {
		app := mustService(t, c, "agency-pooled")
		gotEnv := env(t, app)
		u, err := url.Parse(gotEnv["DATABASE_URL"])
		if err != nil || u.Host != "pgbouncer:6432" {
			t.Fatalf("DATABASE_URL: got %q, want a URL on pgbouncer:6432", gotEnv["DATABASE_URL"])
		}
		// Migrations hold a session-level advisory lock: a direct connection, same database.
		m, err := url.Parse(gotEnv["MIGRATION_DATABASE_URL"])
		if err != nil || m.Host != "postgres:5432" {
			t.Fatalf("MIGRATION_DATABASE_URL: got %q, want a URL on postgres:5432", gotEnv["MIGRATION_DATABASE_URL"])
		}
		if m.Path != u.Path || m.User.Username() != u.User.Username() {
			t.Errorf("MIGRATION_DATABASE_URL: got user %q database %q, want DATABASE_URL's user %q database %q",
				m.User.Username(), m.Path, u.User.Username(), u.Path)
		}
		if got := gotEnv["DB_PREPARED_STATEMENTS"]; got != "false" {
			t.Errorf("DB_PREPARED_STATEMENTS: got %q, want false", got)
		}
		if _, ok := app.DependsOn["pgbouncer"]; !ok {
			t.Errorf("depends_on: got %v, want pgbouncer", app.DependsOn)
		}
		// Both run at once, so they cannot publish the same host port.
		direct := mustService(t, c, "agency")
		if len(app.Ports) == 0 {
			t.Errorf("ports: got none, want one next to agency's %v", direct.Ports)
		}
		for _, p := range app.Ports {
			for _, d := range direct.Ports {
				if host := published(p); host != "" && host == published(d) {
					t.Errorf("ports: agency-pooled %s and agency %s publish the same host port", p, d)
				}
			}
		}
	})
}

// published returns the host side of a short-syntax port mapping ("8081:8080" gives "8081").
func published(mapping string) string {
	i := strings.LastIndex(mapping, ":")
	if i < 0 {
		return "" // container port only: Compose picks a free host port
	}
	return mapping[:i]
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	var froms []int // line indexes of FROM instructions
	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if instruction(line) == "FROM" {
			froms = append(froms, i)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("FROM lines: got %d, want >= 2 (multi-stage build)", len(froms))
	}

	user := ""
	for _, line := range lines[froms[len(froms)-1]:] {
		if instruction(line) == "USER" {
			user = strings.Fields(line)[1]
		}
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("USER in final stage: got %q, want a non-root user", user)
	}

	text := string(data)
	for _, want := range []string{"CGO_ENABLED=0", "go build"} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile: got no %q, want it", want)
		}
	}
}

// instruction returns a Dockerfile line's upper-cased instruction, or "" for comments and blanks.
func instruction(line string) string {
	fields := strings.Fields(line)
	if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
		return ""
	}
	return strings.ToUpper(fields[0])
}
