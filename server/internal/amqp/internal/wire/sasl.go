package wire

// SASL outcome codes (part 5, section 5.3.3.6).
const (
	SASLOK      uint8 = 0 // authentication succeeded
	SASLAuth    uint8 = 1 // bad credentials
	SASLSys     uint8 = 2 // system error
	SASLSysPerm uint8 = 3 // unrecoverable system error
	SASLSysTemp uint8 = 4 // transient system error
)

// SASLMechanisms advertises the server's mechanisms.
type SASLMechanisms struct{ Mechanisms []Symbol }

// SASLInit selects a mechanism and carries the initial response.
type SASLInit struct {
	Mechanism       Symbol
	InitialResponse []byte
	Hostname        string
}

// SASLChallenge and SASLResponse continue a multi-step mechanism; the
// broker's mechanisms (ANONYMOUS, PLAIN) never need them, but a client may
// still send a response, which the server must be able to read and refuse.
type SASLChallenge struct{ Challenge []byte }

// SASLResponse answers a challenge.
type SASLResponse struct{ Response []byte }

// SASLOutcome ends the exchange.
type SASLOutcome struct {
	Code           uint8
	AdditionalData []byte
}

func (*SASLMechanisms) frameType() uint8 { return FrameSASL }
func (*SASLInit) frameType() uint8       { return FrameSASL }
func (*SASLChallenge) frameType() uint8  { return FrameSASL }
func (*SASLResponse) frameType() uint8   { return FrameSASL }
func (*SASLOutcome) frameType() uint8    { return FrameSASL }

func (p *SASLMechanisms) appendTo(b []byte) []byte {
	w := beginFields(b, codeSASLMechanisms)
	w.flushNulls()
	w.b = AppendSymbolArray(w.b, p.Mechanisms) // mandatory, even if empty
	w.count++
	return w.done()
}

func (p *SASLMechanisms) decode(l List) error {
	r := fieldReader{what: "sasl-mechanisms", l: l}
	r.required(0)
	p.Mechanisms = r.syms(0)
	return r.err
}

func (p *SASLInit) appendTo(b []byte) []byte {
	w := beginFields(b, codeSASLInit)
	w.value(p.Mechanism)
	w.bin(p.InitialResponse)
	w.str(p.Hostname)
	return w.done()
}

func (p *SASLInit) decode(l List) error {
	r := fieldReader{what: "sasl-init", l: l}
	r.required(0)
	*p = SASLInit{Mechanism: r.sym(0), InitialResponse: r.bin(1), Hostname: r.str(2)}
	return r.err
}

func (p *SASLChallenge) appendTo(b []byte) []byte {
	w := beginFields(b, codeSASLChallenge)
	w.value(p.Challenge)
	return w.done()
}

func (p *SASLChallenge) decode(l List) error {
	r := fieldReader{what: "sasl-challenge", l: l}
	r.required(0)
	p.Challenge = r.bin(0)
	return r.err
}

func (p *SASLResponse) appendTo(b []byte) []byte {
	w := beginFields(b, codeSASLResponse)
	w.value(p.Response)
	return w.done()
}

func (p *SASLResponse) decode(l List) error {
	r := fieldReader{what: "sasl-response", l: l}
	r.required(0)
	p.Response = r.bin(0)
	return r.err
}

func (p *SASLOutcome) appendTo(b []byte) []byte {
	w := beginFields(b, codeSASLOutcome)
	w.ubyte(p.Code)
	w.bin(p.AdditionalData)
	return w.done()
}

func (p *SASLOutcome) decode(l List) error {
	r := fieldReader{what: "sasl-outcome", l: l}
	r.required(0)
	*p = SASLOutcome{Code: r.ubyte(0, 0), AdditionalData: r.bin(1)}
	return r.err
}
