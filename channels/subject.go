package channels

import (
	"strings"

	"github.com/sportello/sportello/channels/clip"
)

// ChatSubject is the subject of a case a chat message opens (chats have
// none of their own): the platform, the sender's name and the first line
// of the text, at most 120 characters ("WhatsApp – Anna Rossi: Buongiorno").
func ChatSubject(platform, name, text string) string {
	s := platform
	if name != "" {
		s += " – " + name
	}
	if first := strings.TrimSpace(strings.SplitN(text, "\n", 2)[0]); first != "" {
		s += ": " + first
	}
	return clip.Runes(s, 120)
}
