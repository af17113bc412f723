// Package selector compiles and evaluates JMS message selectors: the SQL-92
// subset that ActiveMQ Classic accepts in the STOMP SUBSCRIBE "selector"
// header. The broker parses a selector once per subscription with Parse and
// calls Matches once per message per consumer, so evaluation allocates
// nothing and LIKE patterns are compiled to a small matcher, not a regexp.
//
// The package owns the selector language only. It never sees a message: the
// caller hands Matches a lookup function that returns header and property
// values (string, int64, float64 or bool; other integer and float types are
// widened, anything else counts as absent).
//
// # Syntax
//
//   - Literals: strings in single quotes, a quote inside written twice; integers
//     in decimal (with an optional L suffix), hexadecimal (0x1F) or octal
//     (a leading 0, as in ActiveMQ: 010 is 8); decimals with an optional
//     exponent (1.5, .5, 5., 1e3); TRUE and FALSE.
//   - Identifiers: a letter, _ or $ followed by letters, digits, _ or $
//     (Unicode letters and digits, as in Java). They are case-sensitive;
//     keywords (AND OR NOT BETWEEN LIKE ESCAPE IN IS NULL TRUE FALSE) are not.
//   - Operators, loosest first: OR; AND; NOT; = <> IS [NOT] NULL;
//     < > <= >= [NOT] LIKE [NOT] BETWEEN [NOT] IN; + -; * / %; unary - +.
//     Parentheses group. Comments are -- to the end of the line and /* */.
//   - x [NOT] LIKE 'pattern' [ESCAPE 'c']: % matches any run of characters,
//     _ exactly one character (a Unicode code point). The escape character
//     makes a following %, _ or escape character literal; elsewhere it is an
//     ordinary character, as in ActiveMQ.
//   - x [NOT] IN ('a', 'b'): x must be a property name, the list holds string
//     literals.
//   - x [NOT] BETWEEN lo AND hi means lo <= x AND x <= hi.
//
// NOT binds looser than comparisons, as in SQL and the JMS specification:
// NOT a = 1 means NOT (a = 1). ActiveMQ's grammar binds NOT like unary
// minus, which makes that selector compare (NOT a) with 1; we do not copy
// that. Parse also rejects selectors that can never be evaluated (ActiveMQ
// rejects most of these too): a non-boolean selector ('a' or x + 1), a
// string or boolean in arithmetic or in < > <= >= BETWEEN, = or <> between
// operands of different fixed types ('a' = 1, x + 1 = 'y'), NULL outside
// IS [NOT] NULL, and a LIKE pattern or IN item that is not a string
// literal. ActiveMQ's
// string concatenation with + is not supported, and neither are XPATH and
// XQUERY selectors. To keep hostile input from exhausting the stack, Parse
// refuses selectors nested more than 100 levels deep (parentheses, NOT,
// signs) or more than 1000 operations deep.
//
// # Evaluation
//
// Results use SQL's three-valued logic: a comparison, arithmetic or
// predicate whose operand is an absent property is UNKNOWN, NOT UNKNOWN is
// UNKNOWN, FALSE AND UNKNOWN is FALSE, TRUE OR UNKNOWN is TRUE. A selector
// matches a message only when it evaluates to TRUE. x IS NULL is TRUE
// exactly when x is absent.
//
// Types follow JMS with ActiveMQ's STOMP rule on top. STOMP carries every
// user header as a string, so ActiveMQ evaluates STOMP selectors in its
// convert_string_expressions mode; this package always does:
//
//   - A string compared with a number (=, <>, <, >, <=, >=, BETWEEN) or used
//     in arithmetic is converted to a number when the whole string is a
//     decimal number: an optional sign, digits with an optional fraction,
//     and an optional exponent ("42", "-1.5", "2e3"; not " 42", "0x10" or
//     "1,5"). It becomes an integer when it has no fraction or exponent and
//     fits in int64, a float otherwise.
//   - A string compared with a boolean is converted when it is "true" or
//     "false" in any case. A property used directly as a condition, as in
//     "urgent AND x = 1", is converted the same way; any other non-boolean
//     value there is FALSE.
//   - Two strings compare as strings with = and <>; with < > <= >= and
//     BETWEEN they compare as numbers when both convert.
//   - Integers and floats compare by value (1 = 1.0). + - * keep integers
//     integral (wrapping on overflow, as Java's long does); / and % always
//     produce a float, as in ActiveMQ, so 7 / 2 = 3.5 and 1 / 0 is +Inf.
//     NaN (0 / 0) equals nothing and is not ordered.
//   - Any other mix (a string that does not convert, a boolean against a
//     number) is not equal and not ordered: = < > <= >= and BETWEEN are FALSE,
//     <> is TRUE. Arithmetic on such a value is UNKNOWN.
//   - LIKE on a non-string value is FALSE; IN on a non-string value is
//     UNKNOWN, as in ActiveMQ.
package selector
