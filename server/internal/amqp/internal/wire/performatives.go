package wire

// Performative is the body of a frame: one of the transport performatives
// (Open .. Close) or, on SASL frames, one of the SASL frames.
type Performative interface {
	appendTo([]byte) []byte
	decode(List) error
	frameType() uint8
}

// Roles of a link endpoint (attach.role, disposition.role).
const (
	RoleSender   = false
	RoleReceiver = true
)

// Settlement modes (attach.snd-settle-mode, attach.rcv-settle-mode).
const (
	SndUnsettled uint8 = 0
	SndSettled   uint8 = 1
	SndMixed     uint8 = 2
	RcvFirst     uint8 = 0
	RcvSecond    uint8 = 1
)

// Open negotiates a connection (part 2, section 2.7.1).
type Open struct {
	ContainerID         string
	Hostname            string
	MaxFrameSize        uint32 // default 4294967295
	ChannelMax          uint16 // default 65535
	IdleTimeout         uint32 // milliseconds; 0 = none
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          Map
}

func (*Open) frameType() uint8 { return FrameAMQP }

func (o *Open) appendTo(b []byte) []byte {
	w := beginFields(b, codeOpen)
	w.value(o.ContainerID) // mandatory, so written even when empty
	w.str(o.Hostname)
	w.uint(o.MaxFrameSize)
	w.ushort(o.ChannelMax)
	if o.IdleTimeout != 0 {
		w.uint(o.IdleTimeout)
	} else {
		w.null()
	}
	w.null() // outgoing-locales
	w.null() // incoming-locales
	w.syms(o.OfferedCapabilities)
	w.syms(o.DesiredCapabilities)
	w.fieldsMap(o.Properties)
	return w.done()
}

func (o *Open) decode(l List) error {
	r := fieldReader{what: "open", l: l}
	r.required(0)
	*o = Open{
		ContainerID:         r.str(0),
		Hostname:            r.str(1),
		MaxFrameSize:        r.uint(2, 0xffffffff),
		ChannelMax:          r.ushort(3, 0xffff),
		IdleTimeout:         r.uint(4, 0),
		OfferedCapabilities: r.syms(7),
		DesiredCapabilities: r.syms(8),
		Properties:          r.fieldsMap(9),
	}
	return r.err
}

// Begin begins a session (section 2.7.2).
type Begin struct {
	RemoteChannel  *uint16
	NextOutgoingID uint32
	IncomingWindow uint32
	OutgoingWindow uint32
	HandleMax      uint32 // default 4294967295
}

func (*Begin) frameType() uint8 { return FrameAMQP }

func (p *Begin) appendTo(b []byte) []byte {
	w := beginFields(b, codeBegin)
	if p.RemoteChannel != nil {
		w.ushort(*p.RemoteChannel)
	} else {
		w.null()
	}
	w.uint(p.NextOutgoingID)
	w.uint(p.IncomingWindow)
	w.uint(p.OutgoingWindow)
	w.uint(p.HandleMax)
	return w.done()
}

func (p *Begin) decode(l List) error {
	r := fieldReader{what: "begin", l: l}
	*p = Begin{
		NextOutgoingID: r.uint(1, 0),
		IncomingWindow: r.uint(2, 0),
		OutgoingWindow: r.uint(3, 0),
		HandleMax:      r.uint(4, 0xffffffff),
	}
	if r.get(0) != nil {
		ch := r.ushort(0, 0)
		p.RemoteChannel = &ch
	}
	r.required(1)
	r.required(2)
	r.required(3)
	return r.err
}

// Attach attaches a link to a session (section 2.7.3). Target is nil and
// Coordinator set when the peer attaches to a transaction coordinator.
type Attach struct {
	Name                 string
	Handle               uint32
	Role                 bool
	SndSettleMode        uint8 // default SndMixed
	RcvSettleMode        uint8 // default RcvFirst
	Source               *Source
	Target               *Target
	Coordinator          *Coordinator
	InitialDeliveryCount uint32
	MaxMessageSize       uint64 // 0 = no limit
	OfferedCapabilities  []Symbol
	DesiredCapabilities  []Symbol
	Properties           Map
}

func (*Attach) frameType() uint8 { return FrameAMQP }

func (p *Attach) appendTo(b []byte) []byte {
	w := beginFields(b, codeAttach)
	w.value(p.Name)
	w.uint(p.Handle)
	w.value(p.Role)
	w.ubyte(p.SndSettleMode)
	w.ubyte(p.RcvSettleMode)
	w.composite(p.Source, p.Source != nil)
	if p.Coordinator != nil {
		w.composite(p.Coordinator, true)
	} else {
		w.composite(p.Target, p.Target != nil)
	}
	w.null() // unsettled
	w.null() // incomplete-unsettled
	if p.Role == RoleSender {
		w.uint(p.InitialDeliveryCount)
	} else {
		w.null()
	}
	if p.MaxMessageSize != 0 {
		w.ulong(p.MaxMessageSize)
	} else {
		w.null()
	}
	w.syms(p.OfferedCapabilities)
	w.syms(p.DesiredCapabilities)
	w.fieldsMap(p.Properties)
	return w.done()
}

func (p *Attach) decode(l List) error {
	r := fieldReader{what: "attach", l: l}
	r.required(0)
	r.required(1)
	r.required(2)
	*p = Attach{
		Name:                 r.str(0),
		Handle:               r.uint(1, 0),
		Role:                 r.bool(2, false),
		SndSettleMode:        r.ubyte(3, SndMixed),
		RcvSettleMode:        r.ubyte(4, RcvFirst),
		InitialDeliveryCount: r.uint(9, 0),
		MaxMessageSize:       r.ulong(10, 0),
		OfferedCapabilities:  r.syms(11),
		DesiredCapabilities:  r.syms(12),
		Properties:           r.fieldsMap(13),
	}
	if p.SndSettleMode > SndMixed || p.RcvSettleMode > RcvSecond {
		return decodeErr("attach", "invalid settle mode %d/%d", p.SndSettleMode, p.RcvSettleMode)
	}
	r.composite(5, func(d Described) (err error) {
		p.Source, err = decodeSource(d)
		return err
	})
	r.composite(6, func(d Described) (err error) {
		if code, ok := descriptorCode(d.Descriptor); ok && code == codeCoordinator {
			p.Coordinator, err = decodeCoordinator(d)
			return err
		}
		p.Target, err = decodeTarget(d)
		return err
	})
	return r.err
}

// Flow updates session and link flow-control state (section 2.7.4).
type Flow struct {
	NextIncomingID *uint32
	IncomingWindow uint32
	NextOutgoingID uint32
	OutgoingWindow uint32
	Handle         *uint32
	DeliveryCount  *uint32
	LinkCredit     *uint32
	Available      *uint32
	Drain          bool
	Echo           bool
}

func (*Flow) frameType() uint8 { return FrameAMQP }

func (p *Flow) appendTo(b []byte) []byte {
	w := beginFields(b, codeFlow)
	w.optUint(p.NextIncomingID)
	w.uint(p.IncomingWindow)
	w.uint(p.NextOutgoingID)
	w.uint(p.OutgoingWindow)
	w.optUint(p.Handle)
	w.optUint(p.DeliveryCount)
	w.optUint(p.LinkCredit)
	w.optUint(p.Available)
	w.bool(p.Drain)
	w.bool(p.Echo)
	return w.done()
}

func (p *Flow) decode(l List) error {
	r := fieldReader{what: "flow", l: l}
	r.required(1)
	r.required(2)
	r.required(3)
	*p = Flow{
		NextIncomingID: r.optUintPtr(0),
		IncomingWindow: r.uint(1, 0),
		NextOutgoingID: r.uint(2, 0),
		OutgoingWindow: r.uint(3, 0),
		Handle:         r.optUintPtr(4),
		DeliveryCount:  r.optUintPtr(5),
		LinkCredit:     r.optUintPtr(6),
		Available:      r.optUintPtr(7),
		Drain:          r.bool(8, false),
		Echo:           r.bool(9, false),
	}
	return r.err
}

// Transfer carries (part of) a message on a link (section 2.7.5). The
// message bytes are the frame's payload, outside the performative.
type Transfer struct {
	Handle        uint32
	DeliveryID    *uint32 // set on the first frame of a delivery
	DeliveryTag   []byte
	MessageFormat *uint32
	Settled       *bool
	More          bool
	RcvSettleMode *uint8
	State         DeliveryState
	Resume        bool
	Aborted       bool
	Batchable     bool
}

func (*Transfer) frameType() uint8 { return FrameAMQP }

func (p *Transfer) appendTo(b []byte) []byte {
	w := beginFields(b, codeTransfer)
	w.uint(p.Handle)
	w.optUint(p.DeliveryID)
	w.bin(p.DeliveryTag)
	w.optUint(p.MessageFormat)
	if p.Settled != nil {
		w.value(*p.Settled)
	} else {
		w.null()
	}
	w.bool(p.More)
	if p.RcvSettleMode != nil {
		w.ubyte(*p.RcvSettleMode)
	} else {
		w.null()
	}
	w.composite(p.State, p.State != nil)
	w.bool(p.Resume)
	w.bool(p.Aborted)
	w.bool(p.Batchable)
	return w.done()
}

func (p *Transfer) decode(l List) error {
	r := fieldReader{what: "transfer", l: l}
	r.required(0)
	*p = Transfer{
		Handle:        r.uint(0, 0),
		DeliveryID:    r.optUintPtr(1),
		DeliveryTag:   r.bin(2),
		MessageFormat: r.optUintPtr(3),
		Settled:       r.optBool(4),
		More:          r.bool(5, false),
		State:         r.state(7),
		Resume:        r.bool(8, false),
		Aborted:       r.bool(9, false),
		Batchable:     r.bool(10, false),
	}
	if r.get(6) != nil {
		m := r.ubyte(6, 0)
		p.RcvSettleMode = &m
	}
	return r.err
}

// Disposition informs the peer of delivery state changes for the range
// First..Last of delivery ids (section 2.7.6).
type Disposition struct {
	Role      bool
	First     uint32
	Last      *uint32 // nil = First
	Settled   bool
	State     DeliveryState
	Batchable bool
}

func (*Disposition) frameType() uint8 { return FrameAMQP }

func (p *Disposition) appendTo(b []byte) []byte {
	w := beginFields(b, codeDisposition)
	w.value(p.Role)
	w.uint(p.First)
	w.optUint(p.Last)
	w.bool(p.Settled)
	w.composite(p.State, p.State != nil)
	w.bool(p.Batchable)
	return w.done()
}

func (p *Disposition) decode(l List) error {
	r := fieldReader{what: "disposition", l: l}
	r.required(0)
	r.required(1)
	*p = Disposition{
		Role:      r.bool(0, false),
		First:     r.uint(1, 0),
		Last:      r.optUintPtr(2),
		Settled:   r.bool(3, false),
		State:     r.state(4),
		Batchable: r.bool(5, false),
	}
	return r.err
}

// Detach detaches a link (section 2.7.7); Closed also closes it.
type Detach struct {
	Handle uint32
	Closed bool
	Error  *Error
}

func (*Detach) frameType() uint8 { return FrameAMQP }

func (p *Detach) appendTo(b []byte) []byte {
	w := beginFields(b, codeDetach)
	w.uint(p.Handle)
	w.bool(p.Closed)
	w.composite(p.Error, p.Error != nil)
	return w.done()
}

func (p *Detach) decode(l List) error {
	r := fieldReader{what: "detach", l: l}
	r.required(0)
	*p = Detach{Handle: r.uint(0, 0), Closed: r.bool(1, false), Error: r.error(2)}
	return r.err
}

// End ends a session (section 2.7.8).
type End struct{ Error *Error }

func (*End) frameType() uint8 { return FrameAMQP }

func (p *End) appendTo(b []byte) []byte {
	w := beginFields(b, codeEnd)
	w.composite(p.Error, p.Error != nil)
	return w.done()
}

func (p *End) decode(l List) error {
	r := fieldReader{what: "end", l: l}
	p.Error = r.error(0)
	return r.err
}

// Close closes the connection (section 2.7.9).
type Close struct{ Error *Error }

func (*Close) frameType() uint8 { return FrameAMQP }

func (p *Close) appendTo(b []byte) []byte {
	w := beginFields(b, codeClose)
	w.composite(p.Error, p.Error != nil)
	return w.done()
}

func (p *Close) decode(l List) error {
	r := fieldReader{what: "close", l: l}
	p.Error = r.error(0)
	return r.err
}
