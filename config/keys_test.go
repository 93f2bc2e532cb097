package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ../.env.example from Keys()")

// envExamplePath is .env.example at the module root, relative to this package's directory.
const envExamplePath = "../.env.example"

// structKeys lists the mapstructure tags of t's fields, descending into squashed sub-structs.
func structKeys(t *testing.T, typ reflect.Type) []string {
	t.Helper()
	var names []string
	for field := range typ.Fields() {
		name, opts, _ := strings.Cut(field.Tag.Get("mapstructure"), ",")
		switch {
		case opts == "squash":
			names = append(names, structKeys(t, field.Type)...)
		case name == "":
			t.Errorf("field %s.%s: got no mapstructure tag, want one", typ.Name(), field.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}

func TestKeys(t *testing.T) {
	t.Run("match_config_fields", func(t *testing.T) {
		var fromTable []string
		for _, k := range Keys() {
			fromTable = append(fromTable, k.viperKey())
		}
		fromStruct := structKeys(t, reflect.TypeFor[Config]())
		slices.Sort(fromTable)
		slices.Sort(fromStruct)
		if !slices.Equal(fromTable, fromStruct) {
			t.Errorf("Keys() vs Config tags:\ngot  %v\nwant %v", fromTable, fromStruct)
		}
	})
	t.Run("unique_upper_snake_with_help", func(t *testing.T) {
		seen := map[string]bool{}
		for _, k := range Keys() {
			if seen[k.Name] {
				t.Errorf("key %s: got it twice, want once", k.Name)
			}
			seen[k.Name] = true
			if k.Name != strings.ToUpper(k.Name) || strings.ContainsAny(k.Name, " -.") {
				t.Errorf("key %s: got a name that is not UPPER_SNAKE, want one", k.Name)
			}
			if k.Help == "" || k.Group == "" {
				t.Errorf("key %s: got empty Help or Group, want both", k.Name)
			}
		}
	})
	t.Run("secrets_have_no_default", func(t *testing.T) {
		for _, k := range Keys() {
			if k.Secret && k.Default != "" {
				t.Errorf("key %s: got default %q, want none for a secret", k.Name, k.Default)
			}
		}
	})
	t.Run("returns_a_copy", func(t *testing.T) {
		Keys()[0].Default = "changed"
		if got := Keys()[0].Default; got == "changed" {
			t.Errorf("Keys()[0].Default after editing a returned slice: got %q, want the original", got)
		}
	})
}

// TestEnvExample fails when .env.example and Keys() disagree; -update rewrites the file.
func TestEnvExample(t *testing.T) {
	want := EnvExample()
	if *update {
		if err := os.WriteFile(envExamplePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(envExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is out of date with Keys() (run: go test ./config -run TestEnvExample -update)\ngot:\n%s\nwant:\n%s", envExamplePath, got, want)
	}

	t.Run("loads_as_defaults", func(t *testing.T) {
		example, err := filepath.Abs(envExamplePath)
		if err != nil {
			t.Fatal(err)
		}
		content, err := os.ReadFile(example)
		if err != nil {
			t.Fatal(err)
		}
		inTempDir(t, map[string]string{".env": string(content)})
		cfg, err := Load(nil, "")
		if err != nil {
			t.Fatalf("Load with .env.example as .env: got error %v, want nil", err)
		}
		if want := wantDefaults(); !reflect.DeepEqual(cfg, want) {
			t.Errorf("Load with .env.example as .env:\ngot  %+v\nwant %+v", cfg, want)
		}
	})
}
