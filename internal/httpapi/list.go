package httpapi

import (
	"net/http"
	"strconv"

	"github.com/heraldpay/herald/internal/validation"
)

// List is the JSON envelope of every list endpoint.
type List[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

// NewList wraps data; nil becomes an empty array.
func NewList[T any](data []T, hasMore bool) List[T] {
	if data == nil {
		data = []T{}
	}
	return List[T]{Object: "list", Data: data, HasMore: hasMore}
}

// Page is a list request's paging: Limit 1–100 (default 10) and the id of
// the last object of the previous page.
type Page struct {
	Limit         int
	StartingAfter string
}

// ParsePage reads limit and starting_after from the query string.
func ParsePage(r *http.Request) (Page, error) {
	p := Page{Limit: 10}
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return p, &validation.Error{Param: "limit", Code: "parameter_invalid_integer",
				Message: "limit must be an integer between 1 and 100."}
		}
		p.Limit = n
	}
	p.StartingAfter = q.Get("starting_after")
	return p, nil
}
