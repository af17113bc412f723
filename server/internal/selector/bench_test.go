package selector

import "testing"

// benchMsg looks like a STOMP message as the broker sees it: typed
// standard headers, user headers as strings.
var benchMsg = props{
	"JMSPriority":     int64(7),
	"JMSDeliveryMode": "PERSISTENT",
	"JMSXGroupID":     "order-17",
	"region":          "eu-west-1",
	"color":           "blue",
	"qty":             "12",
	"price":           "150.25",
	"subject":         "new order for customer 42",
	"urgent":          "true",
}

var benchSelectors = []struct{ name, sel string }{
	{"equality", "JMSPriority = 7"},
	{"string-number", "price > 100"},
	{"compound", "JMSPriority > 4 AND region LIKE 'eu-%' AND color IN ('red', 'green', 'blue') AND NOT qty * 2 BETWEEN 10 AND 20"},
	{"like-contains", "subject LIKE '%order%customer%'"},
	{"like-underscore", "JMSXGroupID LIKE 'order-__'"},
	{"in-large", "color IN ('c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'blue')"},
	{"absent", "missing = 'x' OR missing IS NULL"},
	{"bool-string", "urgent AND JMSDeliveryMode <> 'NON_PERSISTENT'"},
	{"arithmetic", "-qty + price * 2 / 3 % 7 > -10"},
}

// TestMatchesDoesNotAllocate guards the dispatch hot path: evaluation runs
// for every message and consumer, so it must not produce garbage.
func TestMatchesDoesNotAllocate(t *testing.T) {
	get := benchMsg.get
	for _, c := range benchSelectors {
		sel, err := Parse(c.sel)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !sel.Matches(get) {
			t.Errorf("%s: %q should match the benchmark message", c.name, c.sel)
		}
		if n := testing.AllocsPerRun(200, func() { sel.Matches(get) }); n != 0 {
			t.Errorf("%s: Matches allocates %v times per call", c.name, n)
		}
	}
}

func BenchmarkMatches(b *testing.B) {
	get := benchMsg.get
	for _, c := range benchSelectors {
		sel, err := Parse(c.sel)
		if err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sel.Matches(get)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	const sel = "JMSPriority > 4 AND region LIKE 'eu-%' AND color IN ('red', 'green', 'blue') AND NOT qty * 2 BETWEEN 10 AND 20"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(sel); err != nil {
			b.Fatal(err)
		}
	}
}
