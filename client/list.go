package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// List is one page of a list endpoint, newest object first.
type List[T any] struct {
	// Object is always "list".
	Object string `json:"object"`
	// Data holds the page's objects.
	Data []T `json:"data"`
	// HasMore is set when more objects follow in the direction of paging:
	// older ones after StartingAfter (the default), newer ones before
	// EndingBefore. The List methods' iterators follow them for you.
	HasMore bool `json:"has_more"`
}

// ListParams selects a page of sessions or endpoints.
type ListParams struct {
	// Limit is the page size, 1–100. 0 leaves the server's default (10).
	// Iterators fetch pages of this size until the list ends.
	Limit int
	// StartingAfter is the ID of the last object of the previous page:
	// the list continues with older objects. Empty starts from the newest.
	StartingAfter string
}

// query encodes p; zero fields are left out so the server's defaults apply.
func (p ListParams) query() url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.StartingAfter != "" {
		q.Set("starting_after", p.StartingAfter)
	}
	return q
}

// send makes the request (body nil: none) and decodes the answer into a
// new T.
func send[T any](ctx context.Context, c *Client, method, path string, q url.Values, body any, opts []RequestOption) (*T, error) {
	var v T
	if err := c.do(ctx, method, path, q, body, &v, opts); err != nil {
		return nil, err
	}
	return &v, nil
}

// get retrieves the object base/{id}.
func get[T any](ctx context.Context, c *Client, base, kind, id string) (*T, error) {
	path, err := objectPath(base, kind, id, "")
	if err != nil {
		return nil, err
	}
	return send[T](ctx, c, http.MethodGet, path, nil, nil, nil)
}

// post sends body (nil: none) to base/{id}/action.
func post[T any](ctx context.Context, c *Client, base, kind, id, action string, body any, opts []RequestOption) (*T, error) {
	path, err := objectPath(base, kind, id, action)
	if err != nil {
		return nil, err
	}
	return send[T](ctx, c, http.MethodPost, path, nil, body, opts)
}

// page fetches one page of the list at path.
func page[T any](ctx context.Context, c *Client, path string, q url.Values) (*List[T], error) {
	return send[List[T]](ctx, c, http.MethodGet, path, q, nil, nil)
}

// all iterates over the list at path from the page q selects, fetching the
// next page when the caller has seen the last object of one, so a loop that
// stops early fetches no more. Each object is yielded with a nil error; a
// failed request yields (nil, err) once and ends the iteration.
//
// Pages come newest first. Paging forward (the default) continues after
// the last, oldest object. Paging backward (ending_before set) continues
// before the first, newest object, and each page is yielded oldest first,
// so that the whole iteration runs forward in time from the cursor.
func all[T any](ctx context.Context, c *Client, path string, q url.Values, idOf func(*T) string) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		q := cloneValues(q)
		cursor := "starting_after"
		if q.Get("ending_before") != "" {
			cursor = "ending_before"
		}
		for {
			l, err := page[T](ctx, c, path, q)
			if err != nil {
				yield(nil, err)
				return
			}
			if cursor == "ending_before" {
				slices.Reverse(l.Data)
			}
			for i := range l.Data {
				if !yield(&l.Data[i], nil) {
					return
				}
			}
			if !l.HasMore || len(l.Data) == 0 {
				return
			}
			q.Set(cursor, idOf(&l.Data[len(l.Data)-1]))
		}
	}
}

func cloneValues(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	return out
}
