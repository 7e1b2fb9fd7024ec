package dashboard

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/heraldpay/herald/internal/id"
)

// Lists are ordered newest first by (created, id) and paged with keyset
// cursors: a page never shifts when rows are added, and every page costs
// one index range scan however deep it is.

// Cursor is the position of one row in a (created, id) descending list.
type Cursor struct {
	At time.Time
	ID string
}

// PageRequest asks for Limit rows older than After, or newer than Before
// (at most one is set; neither is the newest page). Rows come back newest
// first either way, and "more" says whether rows follow in the direction
// asked.
type PageRequest struct {
	Limit  int
	After  *Cursor
	Before *Cursor
}

// pageSize is the rows per page of the dashboard's lists.
const pageSize = 50

var errBadCursor = errors.New("invalid cursor")

// String encodes c for a URL: opaque, but only a position.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + "." + c.ID))
}

// parseCursor decodes a cursor whose id must carry prefix.
func parseCursor(s, prefix string) (*Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadCursor
	}
	micros, objectID, ok := strings.Cut(string(raw), ".")
	if !ok || !id.HasPrefix(objectID, prefix) {
		return nil, errBadCursor
	}
	n, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return nil, errBadCursor
	}
	return &Cursor{At: time.UnixMicro(n).UTC(), ID: objectID}, nil
}

// pageRequest reads the after and before query parameters.
func pageRequest(after, before, prefix string) (PageRequest, error) {
	p := PageRequest{Limit: pageSize}
	var err error
	switch {
	case after != "" && before != "":
		return p, errBadCursor
	case after != "":
		p.After, err = parseCursor(after, prefix)
	case before != "":
		p.Before, err = parseCursor(before, prefix)
	}
	return p, err
}

// pager holds the cursors of the neighbouring pages; nil when there is none.
type pager struct {
	Newer *Cursor
	Older *Cursor
	// First is set when the newest page is not the one shown.
	First bool
}

// newPager works out the neighbours of a page of rows (newest first) that
// was fetched with req and came back with more.
func newPager[T any](rows []T, more bool, req PageRequest, cursor func(T) Cursor) pager {
	var p pager
	if len(rows) == 0 {
		// Past either end (the rows moved on): offer the newest page.
		p.First = req.After != nil || req.Before != nil
		return p
	}
	first, last := cursor(rows[0]), cursor(rows[len(rows)-1])
	if req.Before != nil {
		// Going back towards the newest: older rows exist (we came from them).
		p.Older = &last
		if more {
			p.Newer = &first
		}
	} else {
		if more {
			p.Older = &last
		}
		if req.After != nil {
			p.Newer = &first
		}
	}
	p.First = p.Newer != nil
	return p
}
