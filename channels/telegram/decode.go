package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Shapes of the Bot API's Update and Message objects (the fields read).
type Update struct {
	UpdateID      int64    `json:"update_id"`
	Message       *Message `json:"message"`
	EditedMessage *Message `json:"edited_message"`
	// Edited is the edit time when the update is an edited message.
	Edited int64 `json:"-"`
	// Ignored names an update kind without a message ("callback_query").
	Ignored string `json:"-"`
}

type User struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Username     string `json:"username"`
	LanguageCode string `json:"language_code"`
}

type Chat struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"`
	Title string `json:"title"`
}

type PhotoSize struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	FileSize     int64  `json:"file_size"`
}

type Document struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileName     string `json:"file_name"`
	MimeType     string `json:"mime_type"`
	FileSize     int64  `json:"file_size"`
}

type Message struct {
	MessageID int64       `json:"message_id"`
	From      *User       `json:"from"`
	Chat      Chat        `json:"chat"`
	Date      int64       `json:"date"`
	EditDate  int64       `json:"edit_date"`
	Text      string      `json:"text"`
	Caption   string      `json:"caption"`
	Photo     []PhotoSize `json:"photo"`
	Document  *Document   `json:"document"`
	Voice     *Document   `json:"voice"`
	Audio     *Document   `json:"audio"`
	Video     *Document   `json:"video"`
	Contact   *struct {
		PhoneNumber string `json:"phone_number"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
		UserID      int64  `json:"user_id"`
	} `json:"contact"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
	} `json:"location"`
	ReplyTo *struct {
		MessageID int64 `json:"message_id"`
	} `json:"reply_to_message"`
	Sticker json.RawMessage `json:"sticker"`
	Poll    json.RawMessage `json:"poll"`
	Dice    json.RawMessage `json:"dice"`

	unknown []string
}

// fileRef is a file of a message to download.
type fileRef struct {
	ID   string
	Name string
	Size int64
}

// files are the message's files: the largest size of a photo, documents,
// voice notes, audio and video.
func (m *Message) files() []fileRef {
	var out []fileRef
	if len(m.Photo) > 0 {
		best := m.Photo[0]
		for _, p := range m.Photo[1:] {
			if p.Width*p.Height > best.Width*best.Height {
				best = p
			}
		}
		out = append(out, fileRef{ID: best.FileID, Size: best.FileSize})
	}
	for _, d := range []*Document{m.Document, m.Voice, m.Audio, m.Video} {
		if d != nil && d.FileID != "" {
			out = append(out, fileRef{ID: d.FileID, Name: d.FileName, Size: d.FileSize})
		}
	}
	return out
}

// text is what the citizen wrote: the text or the caption, a shared
// contact or a location as text.
func (m *Message) text() string {
	parts := []string{m.Text}
	if m.Caption != "" {
		parts = append(parts, m.Caption)
	}
	if c := m.Contact; c != nil {
		parts = append(parts, fmt.Sprintf("Contatto / Contact: %s %s, %s", c.FirstName, c.LastName, c.PhoneNumber))
	}
	if l := m.Location; l != nil {
		parts = append(parts, fmt.Sprintf("Posizione / Location: %.6f, %.6f\nhttps://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f", l.Latitude, l.Longitude, l.Latitude, l.Longitude))
	}
	return strings.TrimSpace(strings.Join(parts, "\n"))
}

// ErrMalformed: the body is not an Update.
var ErrMalformed = errors.New("malformed update")

// Decode reads a webhook body. An update without a message (an inline
// query, a callback) comes back with Message nil and Ignored set. It does
// no I/O.
func Decode(body []byte) (Update, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Update{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var u Update
	if err := json.Unmarshal(body, &u); err != nil {
		return Update{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, ok := raw["update_id"]; !ok || u.UpdateID <= 0 {
		return Update{}, fmt.Errorf("%w: no update_id", ErrMalformed)
	}
	if u.Message == nil && u.EditedMessage != nil {
		u.Message = u.EditedMessage
		u.Edited = max(u.EditedMessage.EditDate, 1)
	}
	if u.Message == nil {
		for k := range raw {
			if k != "update_id" {
				u.Ignored = k
			}
		}
		return u, nil
	}
	m := u.Message
	if m.MessageID <= 0 || m.Chat.ID == 0 {
		return Update{}, fmt.Errorf("%w: message without message_id or chat", ErrMalformed)
	}
	if m.From != nil && m.From.IsBot {
		u.Ignored, u.Message = "a message from a bot", nil
		return u, nil
	}
	if len(m.Sticker) > 0 {
		m.unknown = append(m.unknown, "a sticker")
	}
	if len(m.Poll) > 0 {
		m.unknown = append(m.unknown, "a poll")
	}
	if len(m.Dice) > 0 {
		m.unknown = append(m.unknown, "a dice")
	}
	if m.text() == "" && len(m.files()) == 0 && len(m.unknown) == 0 {
		m.unknown = append(m.unknown, "content of a kind not listed")
	}
	return u, nil
}
