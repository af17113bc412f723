package wire

// Transactions (part 4): a client attaches a link to the broker's
// coordinator, sends Declare and Discharge as amqp-value message bodies on
// it, and is answered with Declared (or Accepted for a discharge). Work in
// a transaction carries a TransactionalState naming it.

const (
	codeDeclare            = 0x31
	codeDischarge          = 0x32
	codeDeclared           = 0x33
	codeTransactionalState = 0x34
)

// Transaction error conditions (part 4, section 4.5.8).
const (
	CondTxUnknownID Symbol = "amqp:transaction:unknown-id"
	CondTxRollback  Symbol = "amqp:transaction:rollback"
)

// Coordinator is the target of a link to a transaction coordinator.
type Coordinator struct {
	Capabilities []Symbol
}

func (c *Coordinator) appendTo(b []byte) []byte {
	w := beginFields(b, codeCoordinator)
	w.syms(c.Capabilities)
	return w.done()
}

func decodeCoordinator(d Described) (*Coordinator, error) {
	l, err := listOf(d, codeCoordinator, "coordinator")
	if err != nil {
		return nil, err
	}
	r := fieldReader{what: "coordinator", l: l}
	return &Coordinator{Capabilities: r.syms(0)}, r.err
}

// Declare asks the coordinator for a new transaction. Global (distributed)
// transactions are not supported, so its global-id is only reported.
type Declare struct {
	GlobalID bool
}

// Discharge ends a transaction: Fail rolls it back, otherwise it commits.
type Discharge struct {
	TxnID []byte
	Fail  bool
}

// DecodeTxnControl decodes the body of a message sent to a coordinator:
// a *Declare or a *Discharge.
func DecodeTxnControl(v any) (any, error) {
	d, ok := v.(Described)
	if !ok {
		return nil, decodeErr("coordinator message", "body is a %T, not declare or discharge", v)
	}
	code, _ := descriptorCode(d.Descriptor)
	switch code {
	case codeDeclare:
		l, err := listOf(d, code, "declare")
		if err != nil {
			return nil, err
		}
		r := fieldReader{what: "declare", l: l}
		return &Declare{GlobalID: r.get(0) != nil}, r.err
	case codeDischarge:
		l, err := listOf(d, code, "discharge")
		if err != nil {
			return nil, err
		}
		r := fieldReader{what: "discharge", l: l}
		r.required(0)
		return &Discharge{TxnID: r.bin(0), Fail: r.bool(1, false)}, r.err
	}
	return nil, decodeErr("coordinator message", "body %v is not declare or discharge", d.Descriptor)
}

// AppendDeclare and AppendDischarge encode the control messages' bodies
// as a client sends them (for tests and clients of this package).
func AppendDeclare(b []byte) []byte { return beginFields(b, codeDeclare).done() }

// AppendDischarge encodes a discharge body value.
func AppendDischarge(b []byte, d *Discharge) []byte {
	w := beginFields(b, codeDischarge)
	w.bin(d.TxnID)
	w.bool(d.Fail)
	return w.done()
}

// Declared is the outcome of a Declare: the new transaction's id.
type Declared struct{ TxnID []byte }

// TransactionalState marks work done in a transaction: on a transfer or a
// disposition from the client, and on the broker's answer, with the
// outcome the work will have if the transaction commits.
type TransactionalState struct {
	TxnID   []byte
	Outcome DeliveryState
}

func (*Declared) deliveryState()           {}
func (*TransactionalState) deliveryState() {}

func (s *Declared) appendTo(b []byte) []byte {
	w := beginFields(b, codeDeclared)
	w.bin(s.TxnID)
	return w.done()
}

func (s *TransactionalState) appendTo(b []byte) []byte {
	w := beginFields(b, codeTransactionalState)
	w.bin(s.TxnID)
	w.composite(s.Outcome, s.Outcome != nil)
	return w.done()
}

// decodeTxnState decodes the two transactional delivery states.
func decodeTxnState(d Described, code uint64) (DeliveryState, error) {
	l, err := listOf(d, code, "transactional state")
	if err != nil {
		return nil, err
	}
	r := fieldReader{what: "transactional state", l: l}
	r.required(0)
	if code == codeDeclared {
		return &Declared{TxnID: r.bin(0)}, r.err
	}
	s := &TransactionalState{TxnID: r.bin(0), Outcome: r.state(1)}
	if _, nested := s.Outcome.(*TransactionalState); nested && r.err == nil {
		return nil, decodeErr("transactional state", "outcome is itself transactional")
	}
	return s, r.err
}
