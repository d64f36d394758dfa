package mailparse

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// guarded runs a guard over in and returns what go-message would see.
func guarded(t *testing.T, in string, boundary string) (string, []string) {
	t.Helper()
	p := &parser{lim: DefaultLimits()}
	var g io.Reader
	if boundary == "" {
		g = newMessageGuard(iotest.OneByteReader(strings.NewReader(in)), p, "")
	} else {
		g = newMultipartGuard(iotest.OneByteReader(strings.NewReader(in)), boundary, p, "")
	}
	out, err := io.ReadAll(g)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), p.problems
}

func TestHeaderGuard(t *testing.T) {
	for _, tt := range []struct {
		name, in, boundary, want string
		problem                  string
	}{
		{"clean header passes", "From: a\r\nSubject: b\r\n folded\r\n\r\nbody\r\n", "", "From: a\r\nSubject: b\r\n folded\r\n\r\nbody\r\n", ""},
		{"LF line ends pass", "From: a\nSubject: b\n\nbody\n", "", "From: a\nSubject: b\n\nbody\n", ""},
		{"mbox From line dropped", "From a@b Mon Mar  2 10:00:00 2026\nFrom: a\n\nbody\n", "", "From: a\n\nbody\n", ""},
		{"missing blank line", "From: a\r\nCiao Mario,\r\nriga\r\n", "", "From: a\r\n\r\nCiao Mario,\r\nriga\r\n", "ends without a blank line"},
		{"orphan folded line", " orfana\r\nFrom: a\r\n\r\nx", "", "From: a\r\n\r\nx", "folded line that continues no field"},
		{"header cut by EOF", "From: a\r\nSubject: b", "", "From: a\r\nSubject: b\r\n\r\n", ""},
		{"key with space before colon", "Subject : b\r\n\r\nx", "", "Subject : b\r\n\r\nx", ""},
		{"multipart: preamble and bodies untouched, part headers guarded",
			"preambolo\r\n--B\r\nContent-Type: text/plain\r\nnon un campo\r\n--B\r\n\r\ncorpo: con due punti\r\n--B--\r\nepilogo\r\n", "B",
			"preambolo\r\n--B\r\nContent-Type: text/plain\r\n\r\nnon un campo\r\n--B\r\n\r\ncorpo: con due punti\r\n--B--\r\nepilogo\r\n", "the header of part 1 ends without a blank line"},
		{"a longer boundary is not ours", "--BB\r\nnon un campo\r\n", "B", "--BB\r\nnon un campo\r\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, problems := guarded(t, tt.in, tt.boundary)
			if got != tt.want {
				t.Errorf("guarded:\n got %q\nwant %q", got, tt.want)
			}
			if tt.problem == "" && len(problems) > 0 || tt.problem != "" && (len(problems) == 0 || !strings.Contains(problems[0], tt.problem)) {
				t.Errorf("problems %q, want %q", problems, tt.problem)
			}
		})
	}
}
