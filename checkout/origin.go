package checkout

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// maxHostLen is the longest DNS name (RFC 1035).
const maxHostLen = 253

// Origin returns the scheme://host[:port] of raw when raw is an absolute
// http or https URL whose host is a DNS name (letters, digits and hyphens,
// labels of 1 to 63 characters) or an IP address literal, with no zone, and
// whose port, if any, is 1 to 65535. ok is false for anything else.
//
// The hosted page's Content-Security-Policy lists the origins of the
// merchant's image and success URLs, so an origin is the one part of a URL
// that must be beyond doubt: url.Parse lets through hosts such as
// "cdn.test;script-src" (';' is legal in a URL's host), which would add a
// directive to the policy. Session creation refuses such URLs, and the
// policy is built only from what Origin accepts.
func Origin(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if !validHost(host) {
		return "", false
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", false
		}
		host += ":" + port
	}
	// Whatever url.Parse allowed in the host beyond name and port (an empty
	// port after the colon, a zone) makes the two differ.
	if !strings.EqualFold(u.Host, host) {
		return "", false
	}
	return u.Scheme + "://" + host, true
}

// validHost reports whether h is an IP literal without a zone or a DNS name
// of letters, digits and hyphens.
func validHost(h string) bool {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Zone() == ""
	}
	if h == "" || len(h) > maxHostLen {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}
