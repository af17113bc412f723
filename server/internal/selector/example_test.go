package selector_test

import (
	"errors"
	"fmt"

	"github.com/tethermq/tether/server/internal/selector"
)

func ExampleParse() {
	sel, err := selector.Parse("JMSPriority > 4 and region like 'eu-%'")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sel)

	headers := map[string]any{"JMSPriority": int64(7), "region": "eu-west-1"}
	fmt.Println(sel.Matches(func(name string) (any, bool) {
		v, ok := headers[name]
		return v, ok
	}))
	// Output:
	// JMSPriority > 4 AND region LIKE 'eu-%'
	// true
}

func ExampleSelector_Matches() {
	sel, err := selector.Parse("qty >= 10 AND NOT discount = 0")
	if err != nil {
		fmt.Println(err)
		return
	}
	lookup := func(h map[string]any) func(string) (any, bool) {
		return func(name string) (any, bool) {
			v, ok := h[name]
			return v, ok
		}
	}
	// STOMP headers arrive as strings; "12" compares as the number 12.
	fmt.Println(sel.Matches(lookup(map[string]any{"qty": "12", "discount": "5"})))
	// discount is absent: NOT discount = 0 is UNKNOWN, so no match.
	fmt.Println(sel.Matches(lookup(map[string]any{"qty": "12"})))
	// "many" is not a number, so qty >= 10 is FALSE.
	fmt.Println(sel.Matches(lookup(map[string]any{"qty": "many", "discount": "5"})))
	// Output:
	// true
	// false
	// false
}

func ExampleSyntaxError() {
	_, err := selector.Parse("color LIKE 5")
	var se *selector.SyntaxError
	if errors.As(err, &se) {
		fmt.Println(se.Pos, se.Msg)
	}
	fmt.Println(err)
	// Output:
	// 11 unexpected number, expected a string literal pattern after LIKE
	// selector: syntax error at offset 11: unexpected number, expected a string literal pattern after LIKE
}
