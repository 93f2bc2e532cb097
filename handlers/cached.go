package handlers

import (
	"context"
	"sync"
)

// cached keeps the first successful result of an expensive render; a
// failed render is not kept, so the next caller tries again.
type cached struct {
	mu   sync.Mutex
	body []byte
}

func (c *cached) get(ctx context.Context, render func(context.Context) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil {
		return c.body, nil
	}
	b, err := render(ctx)
	if err != nil {
		return nil, err
	}
	c.body = b
	return b, nil
}
