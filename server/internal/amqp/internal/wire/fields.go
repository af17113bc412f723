package wire

import "fmt"

// Composite types (performatives, sections, termini, outcomes) are
// described lists whose fields are positional. fieldWriter appends them,
// dropping trailing nulls as the specification allows; fieldReader reads
// them with type checks, treating absent and null fields alike.

// fieldWriter appends a described list field by field.
type fieldWriter struct {
	b     []byte
	c     compound
	count int // fields written, including interior nulls
	nulls int // nulls not yet written: emitted only if a later field is set
}

func beginFields(b []byte, code uint64) *fieldWriter {
	b = AppendUlong(append(b, codeDescribed), code)
	b, c := beginCompound(b, codeList32)
	return &fieldWriter{b: b, c: c}
}

func (w *fieldWriter) flushNulls() {
	for ; w.nulls > 0; w.nulls-- {
		w.b = append(w.b, codeNull)
		w.count++
	}
}

func (w *fieldWriter) null() { w.nulls++ }

func (w *fieldWriter) value(v any) {
	if v == nil {
		w.null()
		return
	}
	w.flushNulls()
	w.b = AppendValue(w.b, v)
	w.count++
}

func (w *fieldWriter) uint(v uint32) {
	w.flushNulls()
	w.b = AppendUint(w.b, v)
	w.count++
}

func (w *fieldWriter) optUint(v *uint32) {
	if v == nil {
		w.null()
		return
	}
	w.uint(*v)
}

func (w *fieldWriter) ulong(v uint64) {
	w.flushNulls()
	w.b = AppendUlong(w.b, v)
	w.count++
}

func (w *fieldWriter) ubyte(v uint8) {
	w.flushNulls()
	w.b = append(w.b, codeUbyte, v)
	w.count++
}

func (w *fieldWriter) ushort(v uint16) {
	w.value(v)
}

// bool writes v, or a null when v is the field's default false.
func (w *fieldWriter) bool(v bool) {
	if !v {
		w.null()
		return
	}
	w.value(true)
}

func (w *fieldWriter) str(v string) {
	if v == "" {
		w.null()
		return
	}
	w.flushNulls()
	w.b = AppendString(w.b, v)
	w.count++
}

func (w *fieldWriter) sym(v Symbol) {
	if v == "" {
		w.null()
		return
	}
	w.flushNulls()
	w.b = AppendSymbol(w.b, v)
	w.count++
}

func (w *fieldWriter) bin(v []byte) {
	if v == nil {
		w.null()
		return
	}
	w.flushNulls()
	w.b = AppendBinary(w.b, v)
	w.count++
}

func (w *fieldWriter) syms(v []Symbol) {
	if len(v) == 0 {
		w.null()
		return
	}
	w.flushNulls()
	w.b = AppendSymbolArray(w.b, v)
	w.count++
}

func (w *fieldWriter) fieldsMap(m Map) {
	if m == nil {
		w.null()
		return
	}
	w.value(m)
}

// composite writes a nested composite (a terminus, an error, a state).
func (w *fieldWriter) composite(c interface{ appendTo([]byte) []byte }, present bool) {
	if !present {
		w.null()
		return
	}
	w.flushNulls()
	w.b = c.appendTo(w.b)
	w.count++
}

// done closes the list and returns the buffer.
func (w *fieldWriter) done() []byte {
	if w.count == 0 {
		// An empty composite is list0: drop the 9-byte header we reserved.
		w.b = append(w.b[:w.c.start], codeList0)
		return w.b
	}
	return w.c.end(w.b, codeList8, w.count)
}

// fieldReader reads the fields of a decoded composite list. The first type
// error is kept and reported by err; later reads return zero values.
type fieldReader struct {
	what string
	l    List
	err  error
}

func (r *fieldReader) get(i int) any {
	if r.err != nil || i >= len(r.l) {
		return nil
	}
	return r.l[i]
}

func (r *fieldReader) fail(i int, want string, got any) {
	if r.err == nil {
		r.err = decodeErr(r.what, "field %d: want %s, got %T", i, want, got)
	}
}

func (r *fieldReader) required(i int) bool {
	if r.get(i) == nil {
		if r.err == nil {
			r.err = decodeErr(r.what, "mandatory field %d missing", i)
		}
		return false
	}
	return true
}

// uint reads an unsigned integer field of at most 32 bits (peers use
// ubyte/ushort/uint interchangeably for small values, so any unsigned type
// that fits is accepted).
func (r *fieldReader) uint(i int, def uint32) uint32 {
	v, ok := r.optUint(i)
	if !ok {
		return def
	}
	return v
}

func (r *fieldReader) optUint(i int) (uint32, bool) {
	switch v := r.get(i).(type) {
	case nil:
		return 0, false
	case uint32:
		return v, true
	case uint16:
		return uint32(v), true
	case uint8:
		return uint32(v), true
	case uint64:
		if v <= 0xffffffff {
			return uint32(v), true
		}
	}
	r.fail(i, "uint", r.get(i))
	return 0, false
}

func (r *fieldReader) optUintPtr(i int) *uint32 {
	v, ok := r.optUint(i)
	if !ok {
		return nil
	}
	return &v
}

func (r *fieldReader) ulong(i int, def uint64) uint64 {
	switch v := r.get(i).(type) {
	case nil:
		return def
	case uint64:
		return v
	case uint32:
		return uint64(v)
	case uint16:
		return uint64(v)
	case uint8:
		return uint64(v)
	}
	r.fail(i, "ulong", r.get(i))
	return def
}

func (r *fieldReader) ushort(i int, def uint16) uint16 {
	switch v := r.get(i).(type) {
	case nil:
		return def
	case uint16:
		return v
	case uint8:
		return uint16(v)
	case uint32:
		if v <= 0xffff {
			return uint16(v)
		}
	}
	r.fail(i, "ushort", r.get(i))
	return def
}

func (r *fieldReader) ubyte(i int, def uint8) uint8 {
	switch v := r.get(i).(type) {
	case nil:
		return def
	case uint8:
		return v
	}
	r.fail(i, "ubyte", r.get(i))
	return def
}

func (r *fieldReader) bool(i int, def bool) bool {
	switch v := r.get(i).(type) {
	case nil:
		return def
	case bool:
		return v
	}
	r.fail(i, "boolean", r.get(i))
	return def
}

func (r *fieldReader) optBool(i int) *bool {
	switch v := r.get(i).(type) {
	case nil:
		return nil
	case bool:
		return &v
	}
	r.fail(i, "boolean", r.get(i))
	return nil
}

func (r *fieldReader) str(i int) string {
	switch v := r.get(i).(type) {
	case nil:
		return ""
	case string:
		return v
	}
	r.fail(i, "string", r.get(i))
	return ""
}

func (r *fieldReader) sym(i int) Symbol {
	switch v := r.get(i).(type) {
	case nil:
		return ""
	case Symbol:
		return v
	}
	r.fail(i, "symbol", r.get(i))
	return ""
}

func (r *fieldReader) bin(i int) []byte {
	switch v := r.get(i).(type) {
	case nil:
		return nil
	case []byte:
		return v
	}
	r.fail(i, "binary", r.get(i))
	return nil
}

// syms reads a multiple-symbol field: one symbol or an array of them.
func (r *fieldReader) syms(i int) []Symbol {
	switch v := r.get(i).(type) {
	case nil:
		return nil
	case Symbol:
		return []Symbol{v}
	case Array:
		out := make([]Symbol, 0, len(v))
		for _, e := range v {
			s, ok := e.(Symbol)
			if !ok {
				r.fail(i, "symbol array", e)
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	r.fail(i, "symbols", r.get(i))
	return nil
}

func (r *fieldReader) fieldsMap(i int) Map {
	switch v := r.get(i).(type) {
	case nil:
		return nil
	case Map:
		return v
	}
	r.fail(i, "map", r.get(i))
	return nil
}

func (r *fieldReader) timestamp(i int) *Timestamp {
	switch v := r.get(i).(type) {
	case nil:
		return nil
	case Timestamp:
		return &v
	}
	r.fail(i, "timestamp", r.get(i))
	return nil
}

// composite reads a nested described composite with the given decoder.
func (r *fieldReader) composite(i int, decode func(Described) error) {
	v := r.get(i)
	if v == nil {
		return
	}
	d, ok := v.(Described)
	if !ok {
		r.fail(i, "described value", v)
		return
	}
	if err := decode(d); err != nil && r.err == nil {
		r.err = fmt.Errorf("%s field %d: %w", r.what, i, err)
	}
}

// descriptorCode returns the numeric code of a descriptor, mapping the
// symbolic names of the types this package knows to their codes.
func descriptorCode(desc any) (uint64, bool) {
	switch d := desc.(type) {
	case uint64:
		return d, true
	case Symbol:
		c, ok := symbolicDescriptors[d]
		return c, ok
	}
	return 0, false
}

// listOf returns the list value of a described composite with code want.
func listOf(d Described, want uint64, what string) (List, error) {
	code, ok := descriptorCode(d.Descriptor)
	if !ok || code != want {
		return nil, decodeErr(what, "unexpected descriptor %v", d.Descriptor)
	}
	l, ok := d.Value.(List)
	if !ok {
		return nil, decodeErr(what, "value is a %T, not a list", d.Value)
	}
	return l, nil
}
