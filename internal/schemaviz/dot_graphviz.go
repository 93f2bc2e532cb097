//go:build !nographviz

package schemaviz

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-graphviz"
)

// Graphviz (go-graphviz: Graphviz compiled to WebAssembly, run by wazero)
// compiles and instantiates its module when the process starts, whether or
// not a diagram is ever drawn: about 15 MB of resident memory and a cache
// in the temporary folder. Production builds leave it out with
// -tags nographviz (dot_none.go): the Dockerfile does, and the server
// measured by make bench is built so.

// Available reports whether this build can lay diagrams out.
const Available = true

// dotMu serialises Graphviz: its WebAssembly build keeps global state, and
// two layouts at once fail ("failed to create graphviz context").
var dotMu sync.Mutex

// runDot lays the graph out and reads the positions back.
func runDot(ctx context.Context, d *Diagram) error {
	dotMu.Lock()
	defer dotMu.Unlock()
	gv, err := graphviz.New(ctx)
	if err != nil {
		return fmt.Errorf("schemaviz: start graphviz: %w", err)
	}
	defer gv.Close()
	g, err := graphviz.ParseBytes([]byte(dotSource(d)))
	if err != nil {
		return fmt.Errorf("schemaviz: graphviz input: %w", err)
	}
	defer g.Close()
	var discard strings.Builder
	if err := gv.Render(ctx, g, graphviz.Format("dot"), &discard); err != nil {
		return fmt.Errorf("schemaviz: graphviz layout: %w", err)
	}
	bb, err := floats(g.GetStr("bb"), 4)
	if err != nil {
		return fmt.Errorf("schemaviz: graphviz bounding box: %w", err)
	}
	d.Width, d.Height = bb[2]+2*margin, bb[3]+2*margin
	flip := func(x, y float64) Point { return Point{X: x + margin, Y: bb[3] - y + margin} }

	nodes := map[string]*Node{}
	for i, n := range d.Nodes {
		gn, err := g.NodeByName("n" + strconv.Itoa(i))
		if err != nil || gn == nil {
			return fmt.Errorf("schemaviz: graphviz lost node %s", n.ID)
		}
		pos, err := floats(gn.GetStr("pos"), 2)
		if err != nil {
			return fmt.Errorf("schemaviz: node %s position: %w", n.ID, err)
		}
		c := flip(pos[0], pos[1])
		n.Rect.X, n.Rect.Y = c.X-n.Rect.W/2, c.Y-n.Rect.H/2
		nodes["n"+strconv.Itoa(i)] = n
	}
	// Edges come back in the order of their tail node, then of creation;
	// match them to links by their ends and, for parallel ones, in order.
	used := map[*Link]bool{}
	for gn, err := g.FirstNode(); err == nil && gn != nil; gn, err = g.NextNode(gn) {
		for ge, err := g.FirstOut(gn); err == nil && ge != nil; ge, err = g.NextOut(ge) {
			tn, err1 := ge.Tail()
			hn, err2 := ge.Head()
			if err1 != nil || err2 != nil {
				return fmt.Errorf("schemaviz: graphviz edge ends unreadable")
			}
			tail, _ := tn.Name()
			head, _ := hn.Name()
			l := pickLink(d.Links, nodes[tail], nodes[head], len(ge.GetStr("label")) > 0, used)
			if l == nil {
				continue
			}
			used[l] = true
			if l.Path, err = splinePoints(ge.GetStr("pos"), flip); err != nil {
				return fmt.Errorf("schemaviz: edge %s→%s: %w", l.From, l.To, err)
			}
			if len(l.LabelLines) > 0 {
				lp, err := floats(ge.GetStr("lp"), 2)
				if err != nil {
					return fmt.Errorf("schemaviz: edge %s→%s label: %w", l.From, l.To, err)
				}
				c := flip(lp[0], lp[1])
				w, h := labelSize(l.LabelLines)
				l.Label = Rect{X: c.X - w/2, Y: c.Y - h/2, W: w, H: h}
			}
		}
	}
	for _, l := range d.Links {
		if !used[l] {
			return fmt.Errorf("schemaviz: graphviz did not route %s→%s", l.From, l.To)
		}
	}
	return nil
}
