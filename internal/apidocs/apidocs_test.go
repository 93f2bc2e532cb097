package apidocs

import (
	"os"
	"strings"
	"testing"
)

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "paragraph_joins_lines", in: "one\ntwo", want: "<p>one two</p>\n"},
		{name: "code_and_bold", in: "**JSON** in `a<b>`", want: "<p><strong>JSON</strong> in <code>a&lt;b&gt;</code></p>\n"},
		{name: "html_is_text", in: "<script>alert(1)</script>", want: "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"},
		{name: "list_with_wrapped_item", in: "- a\n  b\n- c", want: "<ul>\n<li>a b</li>\n<li>c</li>\n</ul>\n"},
		{name: "heading_starts_at_h3", in: "## Error codes", want: "<h3>Error codes</h3>\n"},
		{name: "link_http", in: "[RFC](https://example.org/x)", want: `<p><a href="https://example.org/x">RFC</a></p>` + "\n"},
		{name: "link_javascript_is_text", in: "[x](javascript:alert(1))", want: "<p>[x](javascript:alert(1))</p>\n"},
		{name: "table_pipe_in_code", in: "| a | b |\n| --- | --- |\n| `x|y` | 2 |",
			want: "<div class=\"table\"><table>\n<thead><tr><th>a</th><th>b</th></tr></thead>\n<tbody>\n<tr><td><code>x|y</code></td><td>2</td></tr>\n</tbody></table></div>\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(markdown(tc.in)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRender_Contract renders the real contract: every operation with its
// security, bodies and error codes.
func TestRender_Contract(t *testing.T) {
	spec, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	page, err := Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`data-method="POST" data-path="/v1/auth/otp/send"`,
		`<span class="auth auth-public">Public</span>`,
		`<span class="auth auth-bearer">Bearer token</span>`,
		`<code class="code">invalid_otp</code>`,
		`<code>device_info</code>`,
		"one of: current, others, global",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestRender_Unparsable(t *testing.T) {
	if _, err := Render([]byte("openapi: [")); err == nil {
		t.Fatal("got no error for a document that is not YAML")
	}
}
