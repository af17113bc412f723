package wire

// Source is a link's source terminus (part 3, section 3.5.3): where the
// messages come from. Fields this broker does not act on are still decoded
// so that they can be echoed back.
type Source struct {
	Address               string
	Durable               uint32 // 0 none, 1 configuration, 2 unsettled-state
	ExpiryPolicy          Symbol // default "session-end"
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties Map
	DistributionMode      Symbol // "move" or "copy"
	Filter                Map
	DefaultOutcome        DeliveryState
	Outcomes              []Symbol
	Capabilities          []Symbol
}

func (s *Source) appendTo(b []byte) []byte {
	w := beginFields(b, codeSource)
	w.str(s.Address)
	if s.Durable != 0 {
		w.uint(s.Durable)
	} else {
		w.null()
	}
	w.sym(s.ExpiryPolicy)
	if s.Timeout != 0 {
		w.uint(s.Timeout)
	} else {
		w.null()
	}
	w.bool(s.Dynamic)
	w.fieldsMap(s.DynamicNodeProperties)
	w.sym(s.DistributionMode)
	w.fieldsMap(s.Filter)
	w.composite(s.DefaultOutcome, s.DefaultOutcome != nil)
	w.syms(s.Outcomes)
	w.syms(s.Capabilities)
	return w.done()
}

func decodeSource(d Described) (*Source, error) {
	l, err := listOf(d, codeSource, "source")
	if err != nil {
		return nil, err
	}
	r := fieldReader{what: "source", l: l}
	s := &Source{
		Address:               r.str(0),
		Durable:               r.uint(1, 0),
		ExpiryPolicy:          r.sym(2),
		Timeout:               r.uint(3, 0),
		Dynamic:               r.bool(4, false),
		DynamicNodeProperties: r.fieldsMap(5),
		DistributionMode:      r.sym(6),
		Filter:                r.fieldsMap(7),
		DefaultOutcome:        r.state(8),
		Outcomes:              r.syms(9),
		Capabilities:          r.syms(10),
	}
	return s, r.err
}

// Target is a link's target terminus (part 3, section 3.5.4): where the
// messages go.
type Target struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          Symbol
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties Map
	Capabilities          []Symbol
}

func (t *Target) appendTo(b []byte) []byte {
	w := beginFields(b, codeTarget)
	w.str(t.Address)
	if t.Durable != 0 {
		w.uint(t.Durable)
	} else {
		w.null()
	}
	w.sym(t.ExpiryPolicy)
	if t.Timeout != 0 {
		w.uint(t.Timeout)
	} else {
		w.null()
	}
	w.bool(t.Dynamic)
	w.fieldsMap(t.DynamicNodeProperties)
	w.syms(t.Capabilities)
	return w.done()
}

func decodeTarget(d Described) (*Target, error) {
	l, err := listOf(d, codeTarget, "target")
	if err != nil {
		return nil, err
	}
	r := fieldReader{what: "target", l: l}
	t := &Target{
		Address:               r.str(0),
		Durable:               r.uint(1, 0),
		ExpiryPolicy:          r.sym(2),
		Timeout:               r.uint(3, 0),
		Dynamic:               r.bool(4, false),
		DynamicNodeProperties: r.fieldsMap(5),
		Capabilities:          r.syms(6),
	}
	return t, r.err
}
