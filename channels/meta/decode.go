package meta

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Payload shapes of Meta's webhooks, as documented (WhatsApp Cloud API
// "messages" field; Messenger Platform and Instagram messaging events).
type payload struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID        string      `json:"id"`
	Time      int64       `json:"time"`
	Changes   []change    `json:"changes"`   // WhatsApp
	Messaging []messaging `json:"messaging"` // Messenger, Instagram
}

type change struct {
	Field string  `json:"field"`
	Value waValue `json:"value"`
}

type waValue struct {
	MessagingProduct string `json:"messaging_product"`
	Metadata         struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID string `json:"wa_id"`
	} `json:"contacts"`
	Messages []waMessage `json:"messages"`
	Statuses []waStatus  `json:"statuses"`
}

type waMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type waMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Context   *struct {
		From string `json:"from"`
		ID   string `json:"id"`
	} `json:"context"`
	Text *struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *waMedia `json:"image"`
	Document *waMedia `json:"document"`
	Audio    *waMedia `json:"audio"`
	Video    *waMedia `json:"video"`
	Sticker  *waMedia `json:"sticker"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
	Errors []graphError `json:"errors"`
}

type waStatus struct {
	ID          string       `json:"id"`
	Status      string       `json:"status"`
	Timestamp   string       `json:"timestamp"`
	RecipientID string       `json:"recipient_id"`
	Errors      []graphError `json:"errors"`
}

type graphError struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

func (e graphError) String() string {
	s := strconv.Itoa(e.Code)
	for _, p := range []string{e.Title, e.Message, e.ErrorData.Details} {
		if p != "" && !strings.Contains(s, p) {
			s += ": " + p
		}
	}
	return s
}

type messaging struct {
	Sender struct {
		ID string `json:"id"`
	} `json:"sender"`
	Recipient struct {
		ID string `json:"id"`
	} `json:"recipient"`
	Timestamp int64 `json:"timestamp"`
	Message   *struct {
		Mid         string `json:"mid"`
		Text        string `json:"text"`
		IsEcho      bool   `json:"is_echo"`
		IsDeleted   bool   `json:"is_deleted"`
		IsUnsupport bool   `json:"is_unsupported"`
		QuickReply  *struct {
			Payload string `json:"payload"`
		} `json:"quick_reply"`
		ReplyTo *struct {
			Mid string `json:"mid"`
		} `json:"reply_to"`
		Attachments []struct {
			Type    string `json:"type"`
			Payload struct {
				URL         string `json:"url"`
				Title       string `json:"title"`
				Coordinates *struct {
					Lat  float64 `json:"lat"`
					Long float64 `json:"long"`
				} `json:"coordinates"`
			} `json:"payload"`
		} `json:"attachments"`
	} `json:"message"`
	Postback *struct {
		Mid     string `json:"mid"`
		Title   string `json:"title"`
		Payload string `json:"payload"`
	} `json:"postback"`
	Delivery *struct {
		Mids      []string `json:"mids"`
		Watermark int64    `json:"watermark"`
	} `json:"delivery"`
	Read *struct {
		Watermark int64 `json:"watermark"`
	} `json:"read"`
}

// Media is a file a message refers to: a WhatsApp media id (fetched
// through the Graph API) or a Messenger/Instagram attachment URL.
type Media struct {
	ID, URL  string
	MimeType string
	FileName string
}

// Message is one citizen's message of a webhook, decoded.
type Message struct {
	// ExternalID is the platform's message id (wamid, mid): stable across
	// redeliveries.
	ExternalID string
	// UserID is the sender at the platform (wa_id, PSID, IGSID).
	UserID string
	Name   string
	// Phone in international form, WhatsApp only.
	Phone string
	Text  string
	// ReplyTo is the id of the message this one answers, if any.
	ReplyTo string
	Media   []Media
	Sent    time.Time
	// Notes explain what was not kept (an unsupported type).
	Notes []string
	// Type is the platform's message type ("text", "image", ...).
	Type string
}

// StatusReport is a platform's report on one of our messages.
type StatusReport struct {
	ExternalID string
	Status     string // sent, delivered, read, failed
	Error      string
	At         time.Time
}

// Batch is what one webhook request carries.
type Batch struct {
	Messages []Message
	Statuses []StatusReport
	// Ignored says what was skipped and why (for the log).
	Ignored []string
}

// ErrMalformed: the body is not a webhook payload of the expected kind.
var ErrMalformed = errors.New("malformed webhook payload")

// objects maps a channel kind to the webhook's "object".
var objects = map[string]string{KindWhatsApp: "whatsapp_business_account", KindMessenger: "page", KindInstagram: "instagram"}

// Limits of one batch, far above what Meta sends (up to 1000 events).
const (
	maxEvents    = 5000
	maxTextBytes = 64 << 10
)

// Decode reads a webhook body of a channel of kind. phoneNumberID, for
// WhatsApp, keeps only messages to that number. It does no I/O.
func Decode(kind, phoneNumberID string, body []byte) (Batch, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return Batch{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if want := objects[kind]; p.Object != want {
		return Batch{}, fmt.Errorf("%w: object %q, want %q", ErrMalformed, p.Object, want)
	}
	var b Batch
	n := 0
	for _, e := range p.Entry {
		n += len(e.Changes) + len(e.Messaging)
		for _, c := range e.Changes {
			n += len(c.Value.Messages) + len(c.Value.Statuses)
		}
	}
	if n > maxEvents {
		return Batch{}, fmt.Errorf("%w: %d events, at most %d", ErrMalformed, n, maxEvents)
	}
	for _, e := range p.Entry {
		if kind == KindWhatsApp {
			for _, c := range e.Changes {
				decodeWhatsApp(&b, c, phoneNumberID)
			}
			continue
		}
		for _, m := range e.Messaging {
			decodeMessaging(&b, m)
		}
	}
	return b, nil
}

func unixString(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

func decodeWhatsApp(b *Batch, c change, phoneNumberID string) {
	if c.Field != "messages" {
		b.Ignored = append(b.Ignored, "field "+c.Field)
		return
	}
	v := c.Value
	if phoneNumberID != "" && v.Metadata.PhoneNumberID != phoneNumberID {
		b.Ignored = append(b.Ignored, fmt.Sprintf("%d messages and %d statuses for phone number id %q",
			len(v.Messages), len(v.Statuses), v.Metadata.PhoneNumberID))
		return
	}
	names := map[string]string{}
	for _, ct := range v.Contacts {
		names[ct.WaID] = ct.Profile.Name
	}
	for _, m := range v.Messages {
		if m.ID == "" || m.From == "" {
			b.Ignored = append(b.Ignored, "a message without id or sender")
			continue
		}
		out := Message{ExternalID: m.ID, UserID: m.From, Name: names[m.From], Phone: "+" + m.From, Sent: unixString(m.Timestamp), Type: m.Type}
		if m.Context != nil {
			out.ReplyTo = m.Context.ID
		}
		media := func(md *waMedia, what string) {
			if md == nil || md.ID == "" {
				out.Notes = append(out.Notes, "WhatsApp "+what+" without a media id")
				return
			}
			out.Media = append(out.Media, Media{ID: md.ID, MimeType: md.MimeType, FileName: md.Filename})
			out.Text = md.Caption
		}
		switch m.Type {
		case "text":
			if m.Text != nil {
				out.Text = m.Text.Body
			}
		case "image":
			media(m.Image, "image")
		case "document":
			media(m.Document, "document")
		case "audio":
			media(m.Audio, "audio")
		case "video":
			media(m.Video, "video")
		case "sticker":
			media(m.Sticker, "sticker")
		case "location":
			if l := m.Location; l != nil {
				out.Text = location(l.Latitude, l.Longitude, l.Name, l.Address)
			}
		case "interactive":
			if i := m.Interactive; i != nil && i.ButtonReply != nil {
				out.Text = i.ButtonReply.Title
			} else if i != nil && i.ListReply != nil {
				out.Text = strings.TrimSpace(i.ListReply.Title + "\n" + i.ListReply.Description)
			}
		case "button":
			if m.Button != nil {
				out.Text = m.Button.Text
			}
		default:
			note := fmt.Sprintf("WhatsApp message of a type Sportello does not read (%q): ask the citizen to write it as text.", m.Type)
			for _, e := range m.Errors {
				note += " WhatsApp: " + e.String()
			}
			out.Notes = append(out.Notes, note)
		}
		b.Messages = append(b.Messages, out)
	}
	for _, s := range v.Statuses {
		if s.ID == "" {
			continue
		}
		r := StatusReport{ExternalID: s.ID, Status: s.Status, At: unixString(s.Timestamp)}
		var errs []string
		for _, e := range s.Errors {
			errs = append(errs, e.String())
		}
		r.Error = strings.Join(errs, "; ")
		b.Statuses = append(b.Statuses, r)
	}
}

func location(lat, long float64, name, address string) string {
	s := fmt.Sprintf("Posizione / Location: %.6f, %.6f\nhttps://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f", lat, long, lat, long)
	if t := strings.TrimSpace(strings.Join([]string{name, address}, "\n")); t != "" {
		s = t + "\n" + s
	}
	return s
}

func decodeMessaging(b *Batch, m messaging) {
	at := time.UnixMilli(m.Timestamp).UTC()
	switch {
	case m.Message != nil && m.Message.IsEcho:
		b.Ignored = append(b.Ignored, "an echo of our own message")
	case m.Message != nil:
		msg := m.Message
		if msg.Mid == "" || m.Sender.ID == "" {
			b.Ignored = append(b.Ignored, "a message without mid or sender")
			return
		}
		out := Message{ExternalID: msg.Mid, UserID: m.Sender.ID, Text: msg.Text, Sent: at, Type: "message"}
		if msg.ReplyTo != nil {
			out.ReplyTo = msg.ReplyTo.Mid
		}
		if msg.IsDeleted {
			out.Notes = append(out.Notes, "The citizen deleted a message.")
		}
		if msg.IsUnsupport {
			out.Notes = append(out.Notes, "A message of a type Sportello does not read: ask the citizen to write it as text.")
		}
		for _, a := range msg.Attachments {
			switch {
			case a.Type == "location" && a.Payload.Coordinates != nil:
				out.Text = strings.TrimSpace(out.Text + "\n" + location(a.Payload.Coordinates.Lat, a.Payload.Coordinates.Long, a.Payload.Title, ""))
			case a.Payload.URL != "" && (a.Type == "image" || a.Type == "file" || a.Type == "audio" || a.Type == "video"):
				out.Media = append(out.Media, Media{URL: a.Payload.URL})
			default:
				out.Notes = append(out.Notes, fmt.Sprintf("An attachment of a type Sportello does not read (%q).", a.Type))
			}
		}
		b.Messages = append(b.Messages, out)
	case m.Postback != nil:
		if m.Postback.Mid == "" || m.Sender.ID == "" {
			b.Ignored = append(b.Ignored, "a postback without mid or sender")
			return
		}
		b.Messages = append(b.Messages, Message{ExternalID: m.Postback.Mid, UserID: m.Sender.ID, Text: m.Postback.Title, Sent: at, Type: "postback"})
	case m.Delivery != nil:
		for _, mid := range m.Delivery.Mids {
			b.Statuses = append(b.Statuses, StatusReport{ExternalID: mid, Status: "delivered", At: at})
		}
	case m.Read != nil:
		// A read receipt names a time, not messages: nothing to record.
		b.Ignored = append(b.Ignored, "a read watermark")
	default:
		b.Ignored = append(b.Ignored, "an event Sportello does not read")
	}
}
