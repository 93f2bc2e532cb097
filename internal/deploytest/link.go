package deploytest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Link is the network between two servers of a test: a TCP proxy on
// 127.0.0.1 that can be cut (bytes stop flowing both ways, connections stay
// open, what was sent waits in buffers) and dropped (every connection
// closed, what the cut held lost), as a network partition does.
type Link struct {
	ln      net.Listener
	target  string
	cut     atomic.Bool
	dropped atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
}

// NewLink forwards a port of 127.0.0.1 to target (host:port).
func NewLink(t testing.TB, target string) *Link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &Link{ln: ln, target: target}
	go l.accept()
	t.Cleanup(func() { l.Drop(); ln.Close() })
	return l
}

// Port is the link's end to connect to.
func (l *Link) Port() int { return l.ln.Addr().(*net.TCPAddr).Port }

func (l *Link) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", l.target)
		if err != nil || l.dropped.Load() {
			c.Close()
			if s != nil {
				s.Close()
			}
			continue
		}
		l.mu.Lock()
		l.conns = append(l.conns, c, s)
		l.mu.Unlock()
		go l.pipe(c, s)
		go l.pipe(s, c)
	}
}

func (l *Link) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for l.cut.Load() {
			if l.dropped.Load() {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Cut stops every byte in both directions; connections stay open.
func (l *Link) Cut() { l.cut.Store(true) }

// Drop closes every connection (what a cut held is lost) and refuses new
// ones.
func (l *Link) Drop() {
	l.dropped.Store(true)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}
