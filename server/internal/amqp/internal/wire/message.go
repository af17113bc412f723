package wire

// Message is an AMQP message in its bare-plus-annotated form (part 3,
// section 3.2): the sections in wire order. Exactly one body kind is set:
// Data (one or more data sections), Value (one amqp-value section, kept
// encoded in ValueRaw so it can be passed through unchanged), or
// Sequences (amqp-sequence sections, kept encoded). A message with no body
// section decodes with every body field empty.
type Message struct {
	Header                *Header
	DeliveryAnnotations   Map
	MessageAnnotations    Map
	Properties            *Properties
	ApplicationProperties Map
	Data                  [][]byte
	Value                 any    // the decoded amqp-value, when HasValue
	ValueRaw              []byte // its encoding
	HasValue              bool
	Sequences             [][]byte // each amqp-sequence section's encoded list
	Footer                Map
	// Sections locates each decoded section in the input, in wire order,
	// so that a receiver can pass encoded sections on unchanged (the bare
	// message is immutable for intermediaries: part 3, section 3.2).
	Sections []Section
}

// Section is where one section lies in a decoded message's encoding.
type Section struct {
	Code       uint64 // the section's descriptor code (0x70 header ... 0x78 footer)
	Start, End int    // byte offsets: encoding[Start:End] is the whole section
}

// Section descriptor codes a receiver may look for in Message.Sections.
const (
	SectionHeader                = codeHeader
	SectionDeliveryAnnotations   = codeDeliveryAnnotations
	SectionMessageAnnotations    = codeMessageAnnotations
	SectionProperties            = codeProperties
	SectionApplicationProperties = codeApplicationProperties
	SectionData                  = codeData
	SectionAMQPSequence          = codeAMQPSequence
	SectionAMQPValue             = codeAMQPValue
	SectionFooter                = codeFooter
)

// AppendHeader appends an encoded header section.
func AppendHeader(b []byte, h *Header) []byte { return h.appendTo(b) }

// AppendMessageAnnotations appends an encoded message-annotations section.
func AppendMessageAnnotations(b []byte, ann Map) []byte {
	return appendSection(b, codeMessageAnnotations, ann)
}

// Header is the message header section (section 3.2.1).
type Header struct {
	Durable       bool
	Priority      uint8 // default 4
	TTL           *uint32
	FirstAcquirer bool
	DeliveryCount uint32
}

// DefaultPriority is the header priority when none is given.
const DefaultPriority = 4

// Properties is the immutable properties section (section 3.2.4).
// MessageID and CorrelationID are a uint64, UUID, []byte or string.
type Properties struct {
	MessageID          any
	UserID             []byte
	To                 string
	Subject            string
	ReplyTo            string
	CorrelationID      any
	ContentType        Symbol
	ContentEncoding    Symbol
	AbsoluteExpiryTime *Timestamp
	CreationTime       *Timestamp
	GroupID            string
	GroupSequence      *uint32
	ReplyToGroupID     string
}

func (h *Header) appendTo(b []byte) []byte {
	w := beginFields(b, codeHeader)
	w.bool(h.Durable)
	if h.Priority != DefaultPriority {
		w.ubyte(h.Priority)
	} else {
		w.null()
	}
	w.optUint(h.TTL)
	w.bool(h.FirstAcquirer)
	if h.DeliveryCount != 0 {
		w.uint(h.DeliveryCount)
	} else {
		w.null()
	}
	return w.done()
}

func (p *Properties) appendTo(b []byte) []byte {
	w := beginFields(b, codeProperties)
	w.value(p.MessageID)
	w.bin(p.UserID)
	w.str(p.To)
	w.str(p.Subject)
	w.str(p.ReplyTo)
	w.value(p.CorrelationID)
	w.sym(p.ContentType)
	w.sym(p.ContentEncoding)
	if p.AbsoluteExpiryTime != nil {
		w.value(*p.AbsoluteExpiryTime)
	} else {
		w.null()
	}
	if p.CreationTime != nil {
		w.value(*p.CreationTime)
	} else {
		w.null()
	}
	w.str(p.GroupID)
	w.optUint(p.GroupSequence)
	w.str(p.ReplyToGroupID)
	return w.done()
}

// AppendMessage appends the encoded message: the payload of its transfers.
func AppendMessage(b []byte, m *Message) []byte {
	if m.Header != nil {
		b = m.Header.appendTo(b)
	}
	if m.DeliveryAnnotations != nil {
		b = appendSection(b, codeDeliveryAnnotations, m.DeliveryAnnotations)
	}
	if m.MessageAnnotations != nil {
		b = appendSection(b, codeMessageAnnotations, m.MessageAnnotations)
	}
	if m.Properties != nil {
		b = m.Properties.appendTo(b)
	}
	if m.ApplicationProperties != nil {
		b = appendSection(b, codeApplicationProperties, m.ApplicationProperties)
	}
	switch {
	case m.HasValue:
		b = AppendUlong(append(b, codeDescribed), codeAMQPValue)
		if m.ValueRaw != nil {
			b = append(b, m.ValueRaw...)
		} else {
			b = AppendValue(b, m.Value)
		}
	case len(m.Sequences) > 0:
		for _, s := range m.Sequences {
			b = append(AppendUlong(append(b, codeDescribed), codeAMQPSequence), s...)
		}
	default:
		for _, d := range m.Data {
			b = appendSection(b, codeData, d)
		}
	}
	if m.Footer != nil {
		b = appendSection(b, codeFooter, m.Footer)
	}
	return b
}

func appendSection(b []byte, code uint64, v any) []byte {
	return AppendValue(AppendUlong(append(b, codeDescribed), code), v)
}

// DecodeMessage decodes the payload of a complete delivery. Sections may
// come in any order, but each non-body section at most once and only one
// kind of body.
func DecodeMessage(b []byte) (*Message, error) {
	return decodeMessage(b, 0)
}

// decodeMessage is DecodeMessage with a minimum value budget per section.
func decodeMessage(b []byte, minBudget int) (*Message, error) {
	m := &Message{}
	seen := map[uint64]bool{}
	for off := 0; off < len(b); {
		start := off
		v, n, err := decodeBudget(b[off:], max(len(b)-off, minBudget))
		if err != nil {
			return nil, err
		}
		off += n
		d, ok := v.(Described)
		if !ok {
			return nil, decodeErr("message", "section is a %T, not a described value", v)
		}
		code, ok := descriptorCode(d.Descriptor)
		if !ok || code < codeHeader || code > codeFooter {
			return nil, decodeErr("message", "unknown section %v", d.Descriptor)
		}
		repeatable := code == codeData || code == codeAMQPSequence
		if seen[code] && !repeatable {
			return nil, decodeErr("message", "section %#x repeated", code)
		}
		seen[code] = true
		m.Sections = append(m.Sections, Section{Code: code, Start: start, End: off})
		if err := m.section(code, d, b[start:off]); err != nil {
			return nil, err
		}
	}
	bodies := 0
	for _, c := range []uint64{codeData, codeAMQPSequence, codeAMQPValue} {
		if seen[c] {
			bodies++
		}
	}
	if bodies > 1 {
		return nil, decodeErr("message", "more than one kind of body section")
	}
	return m, nil
}

// section stores one decoded section; raw is its whole encoding.
func (m *Message) section(code uint64, d Described, raw []byte) error {
	switch code {
	case codeHeader:
		l, err := listOf(d, code, "message header")
		if err != nil {
			return err
		}
		r := fieldReader{what: "message header", l: l}
		m.Header = &Header{
			Durable:       r.bool(0, false),
			Priority:      r.ubyte(1, DefaultPriority),
			TTL:           r.optUintPtr(2),
			FirstAcquirer: r.bool(3, false),
			DeliveryCount: r.uint(4, 0),
		}
		return r.err
	case codeProperties:
		l, err := listOf(d, code, "message properties")
		if err != nil {
			return err
		}
		return m.properties(l)
	case codeDeliveryAnnotations, codeMessageAnnotations, codeApplicationProperties, codeFooter:
		mp, ok := d.Value.(Map)
		if !ok {
			return decodeErr("message", "section %#x is a %T, not a map", code, d.Value)
		}
		switch code {
		case codeDeliveryAnnotations:
			m.DeliveryAnnotations = mp
		case codeMessageAnnotations:
			m.MessageAnnotations = mp
		case codeApplicationProperties:
			m.ApplicationProperties = mp
		default:
			m.Footer = mp
		}
	case codeData:
		p, ok := d.Value.([]byte)
		if !ok {
			return decodeErr("message", "data section is a %T, not binary", d.Value)
		}
		m.Data = append(m.Data, p)
	case codeAMQPSequence:
		if _, ok := d.Value.(List); !ok {
			return decodeErr("message", "amqp-sequence section is a %T, not a list", d.Value)
		}
		m.Sequences = append(m.Sequences, valueBytes(raw))
	case codeAMQPValue:
		m.Value, m.ValueRaw, m.HasValue = d.Value, valueBytes(raw), true
	}
	return nil
}

// valueBytes strips the section descriptor (0x00, then the descriptor's
// own encoding) from a section's raw bytes, leaving the encoded value.
func valueBytes(raw []byte) []byte {
	_, n, _ := Decode(raw[1:]) // already decoded once, cannot fail
	return raw[1+n:]
}

func (m *Message) properties(l List) error {
	r := fieldReader{what: "message properties", l: l}
	p := &Properties{
		MessageID:          r.get(0),
		UserID:             r.bin(1),
		To:                 r.str(2),
		Subject:            r.str(3),
		ReplyTo:            r.str(4),
		CorrelationID:      r.get(5),
		ContentType:        r.sym(6),
		ContentEncoding:    r.sym(7),
		AbsoluteExpiryTime: r.timestamp(8),
		CreationTime:       r.timestamp(9),
		GroupID:            r.str(10),
		GroupSequence:      r.optUintPtr(11),
		ReplyToGroupID:     r.str(12),
	}
	for i, id := range []any{p.MessageID, p.CorrelationID} {
		switch id.(type) {
		case nil, uint64, UUID, []byte, string:
		default:
			r.fail([]int{0, 5}[i], "message id (ulong, uuid, binary or string)", id)
		}
	}
	m.Properties = p
	return r.err
}
