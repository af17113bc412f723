package selector

import "strings"

// isNullNode is x IS [NOT] NULL: the only test that is never UNKNOWN.
type isNullNode struct {
	x   node
	neg bool
}

func (n *isNullNode) eval(get getter) value {
	return boolValue((n.x.eval(get).kind == kindNull) != n.neg)
}

func (n *isNullNode) prec() int { return precEq }

func (n *isNullNode) format(b *strings.Builder) {
	formatChild(b, n.x, precEq)
	if n.neg {
		b.WriteString(" IS NOT NULL")
	} else {
		b.WriteString(" IS NULL")
	}
}

// inSetMin is the list length from which a map lookup beats a linear scan
// of string comparisons.
const inSetMin = 8

// inNode is x [NOT] IN (...). A non-string value is UNKNOWN, as in ActiveMQ.
type inNode struct {
	x     node
	items []string
	set   map[string]struct{} // built for long lists only
	neg   bool
}

func newInNode(x node, items []string, neg bool) *inNode {
	n := &inNode{x: x, items: items, neg: neg}
	if len(items) >= inSetMin {
		n.set = make(map[string]struct{}, len(items))
		for _, it := range items {
			n.set[it] = struct{}{}
		}
	}
	return n
}

func (n *inNode) eval(get getter) value {
	v := n.x.eval(get)
	if v.kind != kindString {
		return unknown
	}
	return boolValue(n.contains(v.s) != n.neg)
}

func (n *inNode) contains(s string) bool {
	if n.set != nil {
		_, ok := n.set[s]
		return ok
	}
	for _, it := range n.items {
		if it == s {
			return true
		}
	}
	return false
}

func (n *inNode) prec() int { return precRel }

func (n *inNode) format(b *strings.Builder) {
	formatChild(b, n.x, precRel)
	if n.neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" IN (")
	for i, it := range n.items {
		if i > 0 {
			b.WriteString(", ")
		}
		quote(b, it)
	}
	b.WriteByte(')')
}
