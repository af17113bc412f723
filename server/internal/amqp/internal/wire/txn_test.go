package wire

import (
	"errors"
	"reflect"
	"testing"
)

func TestTxnControlRoundTrip(t *testing.T) {
	v, _, err := Decode(AppendDeclare(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeTxnControl(v); err != nil || !reflect.DeepEqual(got, &Declare{}) {
		t.Fatalf("declare: %#v %v", got, err)
	}
	want := &Discharge{TxnID: []byte{1, 2, 3}, Fail: true}
	if v, _, err = Decode(AppendDischarge(nil, want)); err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeTxnControl(v); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("discharge: %#v %v", got, err)
	}
	var de *DecodeError
	for _, bad := range []any{"text", Described{Descriptor: uint64(codeDischarge), Value: List{}}, Described{Descriptor: uint64(0x99), Value: List{}}} {
		if _, err := DecodeTxnControl(bad); !errors.As(err, &de) {
			t.Errorf("DecodeTxnControl(%#v) = %v, want a *DecodeError", bad, err)
		}
	}
	nested := Described{Descriptor: uint64(codeTransactionalState), Value: List{[]byte{1},
		Described{Descriptor: uint64(codeTransactionalState), Value: List{[]byte{2}}}}}
	if _, err := decodeState(nested); !errors.As(err, &de) {
		t.Errorf("a transactional state inside another decoded: %v", err)
	}
}
