package wire

// Descriptor codes (domain 0x00000000) of the composite types this package
// reads and writes.
const (
	codeOpen        = 0x10
	codeBegin       = 0x11
	codeAttach      = 0x12
	codeFlow        = 0x13
	codeTransfer    = 0x14
	codeDisposition = 0x15
	codeDetach      = 0x16
	codeEnd         = 0x17
	codeClose       = 0x18
	codeError       = 0x1d

	codeReceived = 0x23
	codeAccepted = 0x24
	codeRejected = 0x25
	codeReleased = 0x26
	codeModified = 0x27
	codeSource   = 0x28
	codeTarget   = 0x29

	codeCoordinator = 0x30

	codeSASLMechanisms = 0x40
	codeSASLInit       = 0x41
	codeSASLChallenge  = 0x42
	codeSASLResponse   = 0x43
	codeSASLOutcome    = 0x44

	codeHeader                = 0x70
	codeDeliveryAnnotations   = 0x71
	codeMessageAnnotations    = 0x72
	codeProperties            = 0x73
	codeApplicationProperties = 0x74
	codeData                  = 0x75
	codeAMQPSequence          = 0x76
	codeAMQPValue             = 0x77
	codeFooter                = 0x78
)

// symbolicDescriptors maps the symbolic descriptor names a peer may use
// instead of the numeric codes.
var symbolicDescriptors = map[Symbol]uint64{
	"amqp:open:list":                  codeOpen,
	"amqp:begin:list":                 codeBegin,
	"amqp:attach:list":                codeAttach,
	"amqp:flow:list":                  codeFlow,
	"amqp:transfer:list":              codeTransfer,
	"amqp:disposition:list":           codeDisposition,
	"amqp:detach:list":                codeDetach,
	"amqp:end:list":                   codeEnd,
	"amqp:close:list":                 codeClose,
	"amqp:error:list":                 codeError,
	"amqp:received:list":              codeReceived,
	"amqp:accepted:list":              codeAccepted,
	"amqp:rejected:list":              codeRejected,
	"amqp:released:list":              codeReleased,
	"amqp:modified:list":              codeModified,
	"amqp:source:list":                codeSource,
	"amqp:target:list":                codeTarget,
	"amqp:coordinator:list":           codeCoordinator,
	"amqp:declare:list":               codeDeclare,
	"amqp:discharge:list":             codeDischarge,
	"amqp:declared:list":              codeDeclared,
	"amqp:transactional-state:list":   codeTransactionalState,
	"amqp:sasl-mechanisms:list":       codeSASLMechanisms,
	"amqp:sasl-init:list":             codeSASLInit,
	"amqp:sasl-challenge:list":        codeSASLChallenge,
	"amqp:sasl-response:list":         codeSASLResponse,
	"amqp:sasl-outcome:list":          codeSASLOutcome,
	"amqp:header:list":                codeHeader,
	"amqp:delivery-annotations:map":   codeDeliveryAnnotations,
	"amqp:message-annotations:map":    codeMessageAnnotations,
	"amqp:properties:list":            codeProperties,
	"amqp:application-properties:map": codeApplicationProperties,
	"amqp:data:binary":                codeData,
	"amqp:amqp-sequence:list":         codeAMQPSequence,
	"amqp:amqp-value:*":               codeAMQPValue,
	"amqp:footer:map":                 codeFooter,
}
