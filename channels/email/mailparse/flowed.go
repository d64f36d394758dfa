package mailparse

import "strings"

// unflow joins the lines of a format=flowed text (RFC 3676, what Apple
// Mail and Thunderbird send): a line ending in a space continues on the
// next one at the same quote depth. With delsp that space is not part of
// the text. The signature separator "-- " is never a soft break.
func unflow(s string, delsp bool) string {
	var out strings.Builder
	out.Grow(len(s))
	var para strings.Builder
	open, depth := false, 0
	flush := func() {
		if !open {
			return
		}
		if depth > 0 {
			out.WriteString(strings.Repeat(">", depth))
			out.WriteByte(' ')
		}
		out.WriteString(para.String())
		out.WriteByte('\n')
		para.Reset()
		open = false
	}
	lines := strings.Split(s, "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	for _, line := range lines {
		d := 0
		for d < len(line) && line[d] == '>' {
			d++
		}
		content := strings.TrimPrefix(line[d:], " ") // space-stuffing
		soft := strings.HasSuffix(content, " ") && content != "-- "
		if soft && delsp {
			content = content[:len(content)-1]
		}
		if open && d != depth {
			flush()
		}
		open, depth = true, d
		para.WriteString(content)
		if !soft {
			flush()
		}
	}
	flush()
	return out.String()
}
