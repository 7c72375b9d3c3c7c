package sqldb

import (
	"strconv"
	"strings"
)

// Rebind turns ? placeholders into $1, $2… for PostgreSQL; unchanged for
// SQLite. A ? inside a quoted string ('…'), a quoted identifier ("…") or a
// comment (-- … and /* … */) is left alone; so is the PostgreSQL operator
// ?| or ?& — write jsonb_exists_any and friends instead of ? operators.
func (db *DB) Rebind(query string) string {
	if db.Dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := closeQuote(query, i+1, c)
			b.WriteString(query[i:j])
			i = j - 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			j := strings.Index(query[i+2:], "*/")
			end := len(query)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			b.WriteString(query[i:end])
			i = end - 1
		case c == '?' && i+1 < len(query) && (query[i+1] == '|' || query[i+1] == '&'):
			b.WriteString(query[i : i+2])
			i++
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// closeQuote returns the index just past the quote q that closes the
// quoted text starting at i, where a doubled quote stands for itself; an
// unclosed quote runs to the end.
func closeQuote(s string, i int, q byte) int {
	for i < len(s) {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(s)
}
