package groups

import "testing"

func TestChooseOwner(t *testing.T) {
	m := NewMap(0)
	m.Assign("a", 1)
	m.Assign("b", 1)
	m.Assign("c", 2)
	for _, tc := range []struct {
		name  string
		cands []Candidate
		want  int
	}{
		{"none", nil, -1},
		{"all full", []Candidate{{ID: 1, Full: true}, {ID: 2, Full: true}}, -1},
		{"fewest groups", []Candidate{{ID: 1}, {ID: 2}, {ID: 3}}, 2},
		{"fewest groups, not first", []Candidate{{ID: 1}, {ID: 2}}, 1},
		{"priority beats load", []Candidate{{ID: 3}, {ID: 1, Priority: 5}}, 1},
		{"skips full", []Candidate{{ID: 3, Full: true}, {ID: 2}, {ID: 1}}, 1},
		{"full high priority skipped", []Candidate{{ID: 3, Priority: 9, Full: true}, {ID: 1}}, 1},
		{"lower priority after higher", []Candidate{{ID: 1, Priority: 5}, {ID: 3}}, 0},
		{"tie keeps broker order", []Candidate{{ID: 7}, {ID: 8}}, 0},
		{"negative priority loses", []Candidate{{ID: 3, Priority: -5}, {ID: 1}}, 1},
	} {
		if got := m.ChooseOwner(tc.cands); got != tc.want {
			t.Errorf("%s: ChooseOwner = %d, want %d", tc.name, got, tc.want)
		}
	}
}
