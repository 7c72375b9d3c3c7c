package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/keiyaku/keiyaku/services/demo/stack"
)

// narrator writes the demo's story: sections, aligned rows, indented
// details. It keeps the first write error in err and then writes nothing.
type narrator struct {
	w     io.Writer
	start time.Time
	err   error
}

func (n *narrator) printf(format string, args ...any) {
	if n.err != nil {
		return
	}
	_, n.err = fmt.Fprintf(n.w, format, args...)
}

// title writes the demo's title, underlined.
func (n *narrator) title(s string) {
	n.printf("%s\n%s\n", s, strings.Repeat("═", len([]rune(s))))
}

// section starts step number i, with the time since the start.
func (n *narrator) section(i int, title string) {
	at := fmt.Sprintf("t+%.1fs", time.Since(n.start).Seconds())
	head := fmt.Sprintf("▸ %d. %s ", i, title)
	n.printf("\n%s%s %s\n", head, strings.Repeat("─", max(3, 90-len([]rune(head)))), at)
}

// say writes one line of the story.
func (n *narrator) say(format string, args ...any) {
	n.printf("  "+format+"\n", args...)
}

// detail writes a line that belongs to the line above it.
func (n *narrator) detail(format string, args ...any) {
	n.printf("      "+format+"\n", args...)
}

// row writes an aligned line: a name, a value, a note.
func (n *narrator) row(name, value, note string) {
	n.say("%-13s %-34s %s", name, value, note)
}

// booking writes a POST /reservations and its answer.
func (n *narrator) booking(b stack.Booking, r stack.Result) {
	what := fmt.Sprintf("%s, %s, %s → %s, %d guest%s", names[b.Member], names[b.Room],
		b.CheckIn.Format(time.DateOnly), b.CheckOut.Format("01-02"), b.Guests, plural(int(b.Guests)))
	answer := fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status))
	switch {
	case r.ID != "" && r.Header.Get("Idempotent-Replayed") == "true":
		answer += " (replayed) " + short(r.ID)
	case r.ID != "":
		answer += " " + short(r.ID)
	case r.Problem != "":
		answer += ": " + shorten(r.Problem, 60)
	}
	n.say("POST /reservations  %-66s %9s  %s", what, ms(r.Elapsed), answer)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
