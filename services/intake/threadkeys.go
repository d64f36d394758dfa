package intake

import "github.com/sportello/sportello/channels/threadkey"

// maxThreadKeys bounds the keys of one contact intake looks at: an e-mail's
// References header can be long, and the newest ids come last.
const maxThreadKeys = 20

// parseThreadKeys keeps the valid, distinct keys of a contact, the last
// maxThreadKeys of them. Unknown or malformed keys are ignored: a channel
// may send keys a later version understands.
func parseThreadKeys(raw []string) []threadkey.Key {
	if len(raw) > maxThreadKeys {
		raw = raw[len(raw)-maxThreadKeys:]
	}
	var out []threadkey.Key
	seen := map[threadkey.Key]bool{}
	for _, s := range raw {
		k, err := threadkey.Parse(s)
		if err != nil || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
	}
	return out
}
