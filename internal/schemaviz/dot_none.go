//go:build nographviz

package schemaviz

import (
	"context"
	"errors"
)

// Available reports whether this build can lay diagrams out: not this one,
// built with -tags nographviz (the production build, see dot_graphviz.go).
// Mermaid and text need no layout and still work.
const Available = false

// ErrNoLayout is the answer of a layout in a build without Graphviz.
var ErrNoLayout = errors.New("schemaviz: this binary was built without Graphviz (-tags nographviz, the production build); draw the diagram with a development build (go run . schema viz), or use --format mermaid or text")

func runDot(context.Context, *Diagram) error { return ErrNoLayout }
