package handlers_test

import (
	"strings"
	"testing"

	"github.com/agency-platform/agency/internal/browsertest"
	"github.com/agency-platform/agency/internal/migration"
)

// box is an element's rectangle on the rendered page.
type box struct{ X, Y, W, H float64 }

func (a box) overlaps(b box) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// In Chromium the page draws the four seed tables and ours, the two
// relations with their cascade rule and the two enum types with their
// values; no two boxes overlap and every row's text stays in its box; a
// click on users highlights its two relations; nothing fails or loads from
// elsewhere.
func TestSchemaPage_Browser(t *testing.T) {
	t.Parallel()
	a := newAPI(t, migration.Postgres, "SCHEMA_UI=true")
	p := browsertest.New(t).Open(t, a.Server.URL+"/schema")
	p.WaitVisible("#diagram")

	var tables map[string]box
	p.Eval(`Object.fromEntries([...document.querySelectorAll(".node")].map(n => {
		const r = n.querySelector(".box").getBoundingClientRect();
		return [n.dataset.id, {X: r.x, Y: r.y, W: r.width, H: r.height}];
	}))`, &tables)
	for _, id := range []string{"t:users", "t:user_auth_identities", "t:user_refresh_tokens", "t:phone_otps", "t:auth_rate_limits", "e:user_role", "e:auth_provider"} {
		if _, ok := tables[id]; !ok {
			t.Errorf("no box for %s", id)
		}
	}
	ids := make([]string, 0, len(tables))
	for id := range tables {
		ids = append(ids, id)
	}
	for i, x := range ids {
		for _, y := range ids[i+1:] {
			if tables[x].overlaps(tables[y]) {
				t.Errorf("boxes %s and %s overlap on the page", x, y)
			}
		}
	}

	var overflow []string
	p.Eval(`[...document.querySelectorAll(".node")].flatMap(n => {
		const b = n.querySelector(".box").getBoundingClientRect();
		return [...n.querySelectorAll("text")].filter(t => t.getBoundingClientRect().right > b.right + 0.5).map(t => n.dataset.id + ": " + t.textContent);
	})`, &overflow)
	if len(overflow) > 0 {
		t.Errorf("text overflows its box: %q", overflow)
	}

	var rels []string
	p.Eval(`[...document.querySelectorAll(".rel-link")].map(l => l.dataset.from + ">" + l.dataset.to + " " + l.querySelector(".label").textContent)`, &rels)
	want := map[string]bool{
		"t:users>t:user_auth_identities identities (O2M)user (M2O)ON DELETE CASCADE": true,
		"t:users>t:user_refresh_tokens sessions (O2M)user (M2O)ON DELETE CASCADE":    true,
	}
	if len(rels) != 2 || !want[rels[0]] || !want[rels[1]] {
		t.Errorf("relations on the page = %q", rels)
	}
	var values []string
	p.Eval(`[...document.querySelectorAll('.node[data-id="e:user_role"] .value text')].map(t => t.textContent)`, &values)
	if strings.Join(values, ",") != "· creator,· agency,· brand,· gifter,· admin" {
		t.Errorf("user_role values = %q", values)
	}
	p.Eval(`[...document.querySelectorAll('.node[data-id="e:auth_provider"] .value text')].map(t => t.textContent)`, &values)
	if strings.Join(values, ",") != "· google,· facebook,· phone" {
		t.Errorf("auth_provider values = %q", values)
	}

	p.Click(`.node[data-id="t:users"] .head`)
	var lit []string
	p.Eval(`[...document.querySelectorAll(".rel-link.hl")].map(l => l.dataset.to)`, &lit)
	if strings.Join(lit, ",") != "t:user_auth_identities,t:user_refresh_tokens" {
		t.Errorf("a click on users highlights %q", lit)
	}
	p.Screenshot("schema")
}
