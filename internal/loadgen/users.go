package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// numbers hands out distinct Indian mobile numbers (+91 9xxxxxxxxx, all
// valid for libphonenumber) from a random start, so successive runs on one
// database sign in new users rather than returning ones.
type numbers struct{ next atomic.Int64 }

func newNumbers() *numbers {
	n := &numbers{}
	n.next.Store(rand.Int64N(900_000_000))
	return n
}

func (n *numbers) take() string {
	return fmt.Sprintf("+919%09d", n.next.Add(1)%1_000_000_000)
}

// User is a signed-in user of the load: its current token pair.
type User struct {
	Phone        string
	AccessToken  string
	RefreshToken string
}

// pair is the part of a token pair response the load tool reads.
type pair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// client calls the API outside the measured load (preparing users).
type client struct {
	base string
	http *http.Client
	sms  *SMSBox
	nums *numbers
}

// call sends one JSON request and decodes a 2xx answer into out (if not nil).
func (c *client) call(ctx context.Context, method, path, bearer string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s%s", method, path, res.Status, bytes.TrimSpace(b), hint(res.StatusCode))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// hint says what to change when the server refuses the load tool.
func hint(status int) string {
	if status == http.StatusTooManyRequests {
		return " (the server's limits are too low for a load: raise OTP_MAX_SENDS_PER_IP_PER_HOUR and OTP_MAX_VERIFY_FAILURES_PER_IP_PER_HOUR for the run, as make bench does)"
	}
	return ""
}

// signIn signs a new number in (send, then verify with the code the
// server sent to the SMS box) and chooses the creator role, as a new app
// user does.
func (c *client) signIn(ctx context.Context) (User, error) {
	u := User{Phone: c.nums.take()}
	if err := c.call(ctx, http.MethodPost, "/v1/auth/otp/send", "", map[string]string{"phone": u.Phone}, nil); err != nil {
		return u, err
	}
	code, err := c.sms.Take(u.Phone)
	if err != nil {
		return u, err
	}
	var p pair
	err = c.call(ctx, http.MethodPost, "/v1/auth/otp/verify", "",
		map[string]string{"phone": u.Phone, "code": code, "device_info": "agency bench"}, &p)
	if err != nil {
		return u, err
	}
	if err := c.call(ctx, http.MethodPut, "/v1/me/role", p.AccessToken, map[string]string{"role": "creator"}, &p); err != nil {
		return u, err
	}
	u.AccessToken, u.RefreshToken = p.AccessToken, p.RefreshToken
	return u, nil
}

// prepare signs n new users in, workers at a time; the first alone, so
// that the per-client limit windows exist before the parallel sign-ins
// (releases before 2026-12 refused some first events of a window that
// arrived together).
func (c *client) prepare(ctx context.Context, n, workers int) ([]User, error) {
	users := make([]User, 0, n)
	if n == 0 {
		return users, nil
	}
	first, err := c.signIn(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare users: %w", err)
	}
	users = append(users, first)
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for range n - 1 {
		g.Go(func() error {
			u, err := c.signIn(ctx)
			if err != nil {
				return fmt.Errorf("prepare users: %w", err)
			}
			mu.Lock()
			users = append(users, u)
			mu.Unlock()
			return nil
		})
	}
	return users, g.Wait()
}
