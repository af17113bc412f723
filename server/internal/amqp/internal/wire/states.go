package wire

// Error conditions the connector sends (part 2, section 2.8.15 onwards).
const (
	CondInternalError       Symbol = "amqp:internal-error"
	CondNotFound            Symbol = "amqp:not-found"
	CondUnauthorizedAccess  Symbol = "amqp:unauthorized-access"
	CondDecodeError         Symbol = "amqp:decode-error"
	CondResourceLimit       Symbol = "amqp:resource-limit-exceeded"
	CondNotAllowed          Symbol = "amqp:not-allowed"
	CondInvalidField        Symbol = "amqp:invalid-field"
	CondNotImplemented      Symbol = "amqp:not-implemented"
	CondIllegalState        Symbol = "amqp:illegal-state"
	CondPreconditionFailed  Symbol = "amqp:precondition-failed"
	CondConnectionForced    Symbol = "amqp:connection:forced"
	CondFramingError        Symbol = "amqp:connection:framing-error"
	CondWindowViolation     Symbol = "amqp:session:window-violation"
	CondErrantLink          Symbol = "amqp:session:errant-link"
	CondHandleInUse         Symbol = "amqp:session:handle-in-use"
	CondUnattachedHandle    Symbol = "amqp:session:unattached-handle"
	CondDetachForced        Symbol = "amqp:link:detach-forced"
	CondTransferLimit       Symbol = "amqp:link:transfer-limit-exceeded"
	CondMessageSizeExceeded Symbol = "amqp:link:message-size-exceeded"
	CondLinkStolen          Symbol = "amqp:link:stolen"
)

// Error is the error composite carried by close, end, detach and the
// rejected outcome.
type Error struct {
	Condition   Symbol
	Description string
	Info        Map
}

func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Condition)
	}
	return string(e.Condition) + ": " + e.Description
}

func (e *Error) appendTo(b []byte) []byte {
	w := beginFields(b, codeError)
	w.sym(e.Condition)
	w.str(e.Description)
	w.fieldsMap(e.Info)
	return w.done()
}

func decodeError(d Described) (*Error, error) {
	l, err := listOf(d, codeError, "error")
	if err != nil {
		return nil, err
	}
	r := fieldReader{what: "error", l: l}
	r.required(0)
	e := &Error{Condition: r.sym(0), Description: r.str(1), Info: r.fieldsMap(2)}
	return e, r.err
}

// DeliveryState is the state of a delivery: an outcome (Accepted,
// Rejected, Released, Modified), Received, or a state this package does not
// interpret (UnknownState, for example a transactional state).
type DeliveryState interface {
	appendTo([]byte) []byte
	deliveryState()
}

// Accepted is the outcome of a message processed successfully.
type Accepted struct{}

// Rejected is the outcome of a message that is invalid and will not be
// processed.
type Rejected struct{ Error *Error }

// Released is the outcome of a message not processed, to be redelivered.
type Released struct{}

// Modified is the outcome of a message not processed, redelivered with
// changes: DeliveryFailed counts it as a failed attempt, UndeliverableHere
// asks not to send it to this link again.
type Modified struct {
	DeliveryFailed     bool
	UndeliverableHere  bool
	MessageAnnotations Map
}

// Received is the non-terminal state of a partially received delivery.
type Received struct {
	SectionNumber uint32
	SectionOffset uint64
}

// UnknownState is a delivery state with a descriptor this package does not
// interpret; it is kept so the connector can refuse it.
type UnknownState struct{ Descriptor any }

func (Accepted) deliveryState()      {}
func (*Rejected) deliveryState()     {}
func (Released) deliveryState()      {}
func (*Modified) deliveryState()     {}
func (*Received) deliveryState()     {}
func (*UnknownState) deliveryState() {}

func (Accepted) appendTo(b []byte) []byte { return beginFields(b, codeAccepted).done() }
func (Released) appendTo(b []byte) []byte { return beginFields(b, codeReleased).done() }

func (s *Rejected) appendTo(b []byte) []byte {
	w := beginFields(b, codeRejected)
	w.composite(s.Error, s.Error != nil)
	return w.done()
}

func (s *Modified) appendTo(b []byte) []byte {
	w := beginFields(b, codeModified)
	w.bool(s.DeliveryFailed)
	w.bool(s.UndeliverableHere)
	w.fieldsMap(s.MessageAnnotations)
	return w.done()
}

func (s *Received) appendTo(b []byte) []byte {
	w := beginFields(b, codeReceived)
	w.uint(s.SectionNumber)
	w.ulong(s.SectionOffset)
	return w.done()
}

func (s *UnknownState) appendTo(b []byte) []byte {
	return AppendValue(b, Described{Descriptor: s.Descriptor, Value: List{}})
}

// decodeState decodes a delivery state or outcome.
func decodeState(v any) (DeliveryState, error) {
	d, ok := v.(Described)
	if !ok {
		return nil, decodeErr("delivery state", "not a described value: %T", v)
	}
	code, known := descriptorCode(d.Descriptor)
	if known && (code == codeDeclared || code == codeTransactionalState) {
		return decodeTxnState(d, code)
	}
	if !known || code < codeReceived || code > codeModified {
		return &UnknownState{Descriptor: d.Descriptor}, nil
	}
	l, err := listOf(d, code, "delivery state")
	if err != nil {
		return nil, err
	}
	r := fieldReader{what: "delivery state", l: l}
	switch code {
	case codeAccepted:
		return Accepted{}, nil
	case codeReleased:
		return Released{}, nil
	case codeRejected:
		s := &Rejected{}
		r.composite(0, func(d Described) (err error) {
			s.Error, err = decodeError(d)
			return err
		})
		return s, r.err
	case codeModified:
		s := &Modified{DeliveryFailed: r.bool(0, false), UndeliverableHere: r.bool(1, false), MessageAnnotations: r.fieldsMap(2)}
		return s, r.err
	}
	s := &Received{SectionNumber: r.uint(0, 0), SectionOffset: r.ulong(1, 0)}
	r.required(0)
	r.required(1)
	return s, r.err
}

// readState reads an optional delivery-state field.
func (r *fieldReader) state(i int) DeliveryState {
	v := r.get(i)
	if v == nil {
		return nil
	}
	s, err := decodeState(v)
	if err != nil && r.err == nil {
		r.err = err
	}
	return s
}

// readError reads an optional error field.
func (r *fieldReader) error(i int) *Error {
	var e *Error
	r.composite(i, func(d Described) (err error) {
		e, err = decodeError(d)
		return err
	})
	return e
}
