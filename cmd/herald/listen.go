package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldpay/herald/client/sse"
	"github.com/heraldpay/herald/webhook"
)

// defaultAPIURL is where `herald listen` and `herald trigger` find Herald
// unless --api-url or HERALD_API_URL say otherwise: `herald serve`'s
// default address.
const defaultAPIURL = "http://127.0.0.1:8080"

// apiFlags are the flags every merchant-side command shares.
type apiFlags struct {
	key string
	url string
}

// apiEnv is what -h says apiFlags mirror.
var apiEnv = map[string]string{"api-key": "HERALD_API_KEY", "api-url": "HERALD_API_URL"}

// register adds the flags with their built-in defaults: the environment
// is read once they are parsed (validate), so that -h never shows a key.
func (a *apiFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.key, "api-key", "", "the merchant's secret API key, sk_…")
	fs.StringVar(&a.url, "api-url", defaultAPIURL, "Herald's base URL")
}

// validate fills what the flags left unset from the environment (a flag
// wins over its variable) and checks the result.
func (a *apiFlags) validate(fs *flag.FlagSet, getenv func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["api-key"] {
		a.key = getenv("HERALD_API_KEY")
	}
	if v := getenv("HERALD_API_URL"); !set["api-url"] && v != "" {
		a.url = v
	}
	if a.key == "" {
		return errors.New("--api-key is required (or HERALD_API_KEY)")
	}
	u, err := url.Parse(a.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--api-url %q is not an http(s) URL", a.url)
	}
	a.url = strings.TrimRight(a.url, "/")
	return nil
}

// apiError is an error answer of the merchant API.
type apiError struct {
	Status int
	Body   struct {
		Error struct {
			Type    string `json:"type"`
			Code    string `json:"code"`
			Message string `json:"message"`
			Param   string `json:"param"`
		} `json:"error"`
	}
}

func (e *apiError) Error() string {
	if e.Body.Error.Message == "" {
		return fmt.Sprintf("Herald answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("Herald answered %d %s: %s", e.Status, e.Body.Error.Code, e.Body.Error.Message)
}

// readAPIError reads an error answer.
func readAPIError(resp *http.Response) error {
	e := &apiError{Status: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(raw, &e.Body)
	return e
}

// listenReconnect bounds the wait between two connections of `herald
// listen` to the stream.
const (
	listenReconnectMin = 500 * time.Millisecond
	listenReconnectMax = 10 * time.Second
)

// listener is one run of `herald listen`.
type listener struct {
	api       apiFlags
	forwardTo string
	types     []string
	keys      [][]byte
	out, errs io.Writer
	stream    *http.Client
	forward   *http.Client
	// lastID is the last event received: the stream resumes after it.
	lastID string
}

const listenSynopsis = `Usage: herald listen --api-key sk_… --forward-to URL [flags]

Streams the merchant's events from Herald and forwards each to a local URL,
signed with a local secret (printed at start), so a receiver can be tried
on a laptop; reconnects where it left off.`

// runListen streams the merchant's events and forwards each to a local
// URL, signed with a local secret, like `stripe listen`.
func runListen(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("herald listen")
	l := &listener{out: stdout, errs: stderr}
	l.api.register(fs)
	fs.StringVar(&l.forwardTo, "forward-to", "", "local URL to POST each event to, e.g. http://localhost:3000/webhooks (required)")
	events := fs.String("events", "", "comma-separated event types to forward (default: all)")
	secret := fs.String("secret", "", "signing secret, whsec_… (default: a new one for this run)")
	if err := parseFlags(fs, args, listenSynopsis, apiEnv); err != nil {
		return err
	}
	if err := l.api.validate(fs, getenv); err != nil {
		return usageError{err}
	}
	if u, err := url.Parse(l.forwardTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{errors.New("--forward-to must be an http(s) URL, e.g. http://localhost:3000/webhooks")}
	}
	for typ := range strings.SplitSeq(*events, ",") {
		if typ = strings.TrimSpace(typ); typ != "" {
			l.types = append(l.types, typ)
		}
	}
	if *secret == "" {
		*secret = webhook.NewSecret()
	}
	key, err := webhook.ParseSecret(*secret)
	if err != nil {
		return usageError{fmt.Errorf("--secret: %w", err)}
	}
	l.keys = [][]byte{key}
	// No overall timeout for the stream; redirects are never followed,
	// like webhook deliveries.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	l.stream = &http.Client{CheckRedirect: noRedirect}
	l.forward = &http.Client{Timeout: 15 * time.Second, CheckRedirect: noRedirect}
	return l.run(ctx, *secret)
}

func (l *listener) run(ctx context.Context, secret string) error {
	delay := listenReconnectMin
	ready := false
	for {
		resp, err := l.connect(ctx)
		var apiErr *apiError
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.As(err, &apiErr) && apiErr.Status != http.StatusTooManyRequests && apiErr.Status < 500:
			// A refused key or a bad filter will not heal by retrying.
			return err
		case err != nil && !ready:
			return fmt.Errorf("connect to %s: %w", l.api.url, err)
		case err == nil:
			if !ready {
				fmt.Fprintf(l.out, "Ready! Your webhook signing secret is %s (^C to quit)\n", secret)
				fmt.Fprintf(l.out, "Forwarding events to %s\n", l.forwardTo)
				ready = true
			} else {
				fmt.Fprintf(l.errs, "%s  reconnected; resuming after %s\n", lineStamp(), orNone(l.lastID))
			}
			delay = listenReconnectMin
			err = l.consume(ctx, resp.Body)
			resp.Body.Close()
			if ctx.Err() != nil {
				return nil
			}
		}
		fmt.Fprintf(l.errs, "%s  stream lost (%v); reconnecting in %s\n", lineStamp(), err, delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, listenReconnectMax)
	}
}

// connect opens the event stream, after the last event received if any.
func (l *listener) connect(ctx context.Context) (*http.Response, error) {
	q := url.Values{"type": l.types}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.api.url+"/v1/events/stream?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+l.api.key)
	req.Header.Set("Accept", "text/event-stream")
	if l.lastID != "" {
		req.Header.Set("Last-Event-ID", l.lastID)
	}
	resp, err := l.stream.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readAPIError(resp)
	}
	return resp, nil
}

// consume forwards every event of one connection, in order, until it ends.
func (l *listener) consume(ctx context.Context, body io.Reader) error {
	r := sse.NewReader(body)
	for {
		m, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("the server closed it")
			}
			return err
		}
		fmt.Fprintf(l.out, "%s  --> %s [%s]\n", lineStamp(), m.Event, m.ID)
		l.deliver(ctx, m)
		l.lastID = m.ID
	}
}

// deliver POSTs one event to the local URL, signed, and prints the answer.
func (l *listener) deliver(ctx context.Context, m sse.Message) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.forwardTo, strings.NewReader(string(m.Data)))
	if err != nil {
		fmt.Fprintf(l.out, "%s  <-- [ERR] POST %s [%s] %v\n", lineStamp(), l.forwardTo, m.ID, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "herald-listen")
	webhook.SetHeaders(req.Header, l.keys, m.ID, time.Now(), m.Data)
	resp, err := l.forward.Do(req)
	if err != nil {
		fmt.Fprintf(l.out, "%s  <-- [ERR] POST %s [%s] %v\n", lineStamp(), l.forwardTo, m.ID, err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	fmt.Fprintf(l.out, "%s  <-- [%d] POST %s [%s]\n", lineStamp(), resp.StatusCode, l.forwardTo, m.ID)
}

// lineStamp is the time at the start of each status line.
func lineStamp() string { return time.Now().Format(time.DateTime) }

func orNone(id string) string {
	if id == "" {
		return "the start"
	}
	return id
}
