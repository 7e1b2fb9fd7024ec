package client

import (
	"net/url"
	"strconv"
)

// List is one page of a list endpoint, newest object first.
type List[T any] struct {
	// Object is always "list".
	Object string `json:"object"`
	// Data holds the page's objects.
	Data []T `json:"data"`
	// HasMore is set when older objects follow: ask for them with
	// ListParams.StartingAfter set to the ID of the last object of Data.
	HasMore bool `json:"has_more"`
}

// ListParams selects a page of a list.
type ListParams struct {
	// Limit is the page size, 1–100. 0 leaves the server's default (10).
	Limit int
	// StartingAfter is the ID of the last object of the previous page;
	// empty for the first page.
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
