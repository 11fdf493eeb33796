package dissect

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wscap/wscap/dissect/http1"
)

// extP builds a parameter for the tables below: "name" or "name=value".
func extP(s string) ExtensionParam {
	name, value, ok := strings.Cut(s, "=")
	return ExtensionParam{Name: name, Value: value, HasValue: ok}
}

func extE(name string, params ...string) Extension {
	e := Extension{Name: name}
	for _, p := range params {
		e.Params = append(e.Params, extP(p))
	}
	return e
}

func TestParseExtensions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values []string
		want   []Extension
	}{
		{"chrome offer", []string{"permessage-deflate; client_max_window_bits"},
			[]Extension{extE("permessage-deflate", "client_max_window_bits")}},
		{"firefox offer", []string{"permessage-deflate"},
			[]Extension{extE("permessage-deflate")}},
		{"gorilla offer", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
			[]Extension{extE("permessage-deflate", "server_no_context_takeover", "client_no_context_takeover")}},
		{"python websockets answer", []string{"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"},
			[]Extension{extE("permessage-deflate", "server_max_window_bits=12", "client_max_window_bits=12")}},
		{"two offers", []string{"permessage-deflate; client_max_window_bits, permessage-deflate"},
			[]Extension{extE("permessage-deflate", "client_max_window_bits"), extE("permessage-deflate")}},
		{"old webkit", []string{"x-webkit-deflate-frame"},
			[]Extension{extE("x-webkit-deflate-frame")}},
		{"old webkit with params", []string{"x-webkit-deflate-frame; max_window_bits=10; no_context_takeover"},
			[]Extension{extE("x-webkit-deflate-frame", "max_window_bits=10", "no_context_takeover")}},
		{"RFC 7692 §7.1.2.2 example", []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"},
			[]Extension{extE("permessage-deflate", "client_max_window_bits", "server_max_window_bits=10"), extE("permessage-deflate", "client_max_window_bits")}},
		{"RFC 6455 §9.1 example", []string{"foo, bar; baz=2"},
			[]Extension{extE("foo"), extE("bar", "baz=2")}},
		{"one value per field line", []string{"foo", "bar; baz=2", "mux; max-channels=4; flow-control, deflate-stream"},
			[]Extension{extE("foo"), extE("bar", "baz=2"), extE("mux", "max-channels=4", "flow-control"), extE("deflate-stream")}},
		{"quoted token value", []string{`permessage-deflate; client_max_window_bits="10"`},
			[]Extension{extE("permessage-deflate", "client_max_window_bits=10")}},
		{"quoted-pair in token value", []string{`a; b="1\0"`},
			[]Extension{extE("a", "b=10")}},
		{"OWS everywhere", []string{" \tpermessage-deflate \t; \tclient_max_window_bits \t= \t10 \t, x ;y "},
			[]Extension{extE("permessage-deflate", "client_max_window_bits=10"), extE("x", "y")}},
		{"no OWS", []string{"a;b=1;c,d"},
			[]Extension{extE("a", "b=1", "c"), extE("d")}},
		{"empty elements", []string{",, a ,,\t, b,", ""},
			[]Extension{extE("a"), extE("b")}},
		{"duplicate params kept", []string{"a; b; b=2; B"},
			[]Extension{extE("a", "b", "b=2", "B")}},
		{"empty quoted value", []string{`a; b=""`}, nil}, // checked below: not a token
		{"empty", nil, nil},
		{"blank", []string{"  ", ","}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseExtensions(tc.values)
			if tc.name == "empty quoted value" {
				var ee *ExtensionError
				if !errors.As(err, &ee) || !ee.Kept || len(got) != 1 || got[0].Params[0] != (ExtensionParam{"b", "", true}) {
					t.Fatalf("got %+v, %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			// Joining the values gives the same list.
			joined, err := ParseExtensions([]string{strings.Join(tc.values, ",")})
			if err != nil || !reflect.DeepEqual(joined, got) {
				t.Errorf("joined: %+v, %v", joined, err)
			}
		})
	}
}

func TestParseExtensionsErrors(t *testing.T) {
	type problem struct {
		value, offset int
		text, reason  string
		kept          bool
	}
	for _, tc := range []struct {
		name     string
		values   []string
		want     []Extension
		problems []problem
	}{
		{"quoted value not a token", []string{`permessage-deflate; client_max_window_bits="1 0"`},
			[]Extension{extE("permessage-deflate", "client_max_window_bits=1 0")},
			[]problem{{0, 43, `permessage-deflate; client_max_window_bits="1 0"`, "not a token", true}}},
		{"quoted value with escaped quote", []string{`a; b="x\"y", c`},
			[]Extension{extE("a", `b=x"y`), extE("c")},
			[]problem{{0, 5, `a; b="x\"y"`, "not a token", true}}},
		{"unterminated quote swallows the rest of its value only", []string{`a; b="x, c`, "d"},
			[]Extension{extE("d")},
			[]problem{{0, 10, `a; b="x, c`, "quoted-string", false}}},
		{"CTL in quoted", []string{"a; b=\"x\x01\", c"},
			[]Extension{extE("c")},
			[]problem{{0, 7, "a; b=\"x\x01\"", "quoted-string", false}}},
		{"missing value", []string{"a; b=, c"},
			[]Extension{extE("c")},
			[]problem{{0, 5, "a; b=", "after '='", false}}},
		{"missing param name", []string{"a; =1, c; ; d"},
			[]Extension{},
			[]problem{{0, 3, "a; =1", "parameter name", false}, {0, 10, "c; ; d", "parameter name", false}}},
		{"space inside name", []string{"permessage deflate, x"},
			[]Extension{extE("x")},
			[]problem{{0, 11, "permessage deflate", "unexpected", false}}},
		{"leading semicolon", []string{"; a"},
			[]Extension{},
			[]problem{{0, 0, "; a", "extension token", false}}},
		{"slash in name", []string{"x/y; a"},
			[]Extension{},
			[]problem{{0, 1, "x/y; a", "unexpected", false}}},
		{"junk after value", []string{"a; b=1 2"},
			[]Extension{},
			[]problem{{0, 7, "a; b=1 2", "unexpected", false}}},
		{"comma inside quotes is no separator", []string{`a; b="x,y"z, c`},
			[]Extension{extE("c")},
			[]problem{{0, 10, `a; b="x,y"z`, "unexpected", false}}},
		{"errors in several values", []string{"good", "bad bad", "also; good", "=", "fine"},
			[]Extension{extE("good"), extE("also", "good"), extE("fine")},
			[]problem{{1, 4, "bad bad", "unexpected", false}, {3, 0, "=", "extension token", false}}},
		{"UTF-8 name", []string{"pérmessage"},
			[]Extension{},
			[]problem{{0, 1, "pérmessage", "unexpected", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseExtensions(tc.values)
			if len(got) == 0 && len(tc.want) == 0 {
				got = []Extension{}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if err == nil {
				t.Fatal("no error")
			}
			var errs []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			} else {
				errs = []error{err}
			}
			if len(errs) != len(tc.problems) {
				t.Fatalf("%d problems (%v), want %d", len(errs), err, len(tc.problems))
			}
			for i, e := range errs {
				ee, ok := e.(*ExtensionError)
				if !ok {
					t.Fatalf("problem %d is %T", i, e)
				}
				w := tc.problems[i]
				if ee.Value != w.value || ee.Offset != w.offset || ee.Text != w.text || ee.Kept != w.kept || !strings.Contains(ee.Reason, w.reason) {
					t.Errorf("problem %d = %+v\nwant %+v", i, *ee, w)
				}
				if !strings.HasPrefix(ee.Error(), "dissect: Sec-WebSocket-Extensions: ") {
					t.Errorf("Error() = %q", ee.Error())
				}
			}
		})
	}
}

func TestExtensionString(t *testing.T) {
	for _, tc := range []struct {
		e    Extension
		want string
	}{
		{extE("permessage-deflate", "client_max_window_bits=10"), "permessage-deflate; client_max_window_bits=10"},
		{extE("permessage-deflate", "client_max_window_bits", "server_no_context_takeover"), "permessage-deflate; client_max_window_bits; server_no_context_takeover"},
		{extE("x-webkit-deflate-frame"), "x-webkit-deflate-frame"},
		{Extension{Name: "a", Params: []ExtensionParam{{Name: "b", Value: `x "y"\z`, HasValue: true}}}, `a; b="x \"y\"\\z"`},
		{Extension{Name: "a", Params: []ExtensionParam{{Name: "b", HasValue: true}}}, `a; b=""`},
	} {
		if got := tc.e.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		back, err := ParseExtensions([]string{tc.e.String()})
		if len(back) != 1 || !reflect.DeepEqual(back[0], tc.e) {
			t.Errorf("reparse of %q: %+v, %v", tc.e.String(), back, err)
		}
	}
}

func TestExtensionParam(t *testing.T) {
	e := extE("permessage-deflate", "client_max_window_bits", "server_max_window_bits=10", "server_max_window_bits=11")
	if p, ok := e.Param("SERVER_max_window_bits"); !ok || p.Value != "10" || !p.HasValue {
		t.Errorf("Param = %+v %v", p, ok)
	}
	if p, ok := e.Param("client_max_window_bits"); !ok || p.HasValue {
		t.Errorf("Param = %+v %v", p, ok)
	}
	if p, ok := e.Param("client_no_context_takeover"); ok || p != (ExtensionParam{}) {
		t.Errorf("Param(missing) = %+v %v", p, ok)
	}
}

func TestParseTokenList(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   []string
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{" , ,\t"}, nil},
		{[]string{"chat"}, []string{"chat"}},
		{[]string{"chat, superchat"}, []string{"chat", "superchat"}},
		{[]string{"chat,superchat", " v2.bookings.example.net ,,"}, []string{"chat", "superchat", "v2.bookings.example.net"}},
		{[]string{"a b, c\t"}, []string{"a b", "c"}}, // not checked to be tokens
		{[]string{"chat,,  superchat ,", "v2.bookings.example.net"}, []string{"chat", "superchat", "v2.bookings.example.net"}},
	} {
		if got := ParseTokenList(tc.values); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseTokenList(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}

// FuzzParseExtensions checks ParseExtensions on arbitrary text: no panic,
// errors of the documented type and within bounds, canonical forms that parse
// back to the same extensions, and the same list whether two values are given
// apart or joined with a comma.
func FuzzParseExtensions(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; client_max_window_bits, permessage-deflate",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
		"x-webkit-deflate-frame",
		`a; b="1\0", c; d="x y"`,
		`a; b="x, c`,
		"; =, ,;",
	} {
		f.Add(s, "foo; bar")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		exts, err := ParseExtensions([]string{a})
		extCheckErr(t, []string{a}, err)
		var canon []string
		for _, e := range exts {
			if !http1.IsToken(e.Name) {
				t.Fatalf("name %q is not a token", e.Name)
			}
			canon = append(canon, e.String())
		}
		back, err2 := ParseExtensions([]string{strings.Join(canon, ", ")})
		if len(back) != len(exts) || (len(exts) > 0 && !reflect.DeepEqual(back, exts)) {
			t.Fatalf("canonical %q parsed to %+v, want %+v", canon, back, exts)
		}
		if err == nil && err2 != nil {
			t.Fatalf("canonical %q: %v", canon, err2)
		}

		eb, errB := ParseExtensions([]string{b})
		if err == nil && errB == nil {
			apart, err := ParseExtensions([]string{a, b})
			joined, err2 := ParseExtensions([]string{a + "," + b})
			if err != nil || err2 != nil || len(apart) != len(exts)+len(eb) ||
				(len(apart) > 0 && !reflect.DeepEqual(apart, joined)) {
				t.Fatalf("apart %+v (%v), joined %+v (%v)", apart, err, joined, err2)
			}
		}

		for _, tok := range ParseTokenList([]string{a, b}) {
			if tok == "" || strings.Contains(tok, ",") || http1.TrimOWS(tok) != tok {
				t.Fatalf("token list element %q", tok)
			}
		}
	})
}

func extCheckErr(t *testing.T, values []string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		ee, ok := e.(*ExtensionError)
		if !ok {
			t.Fatalf("error %T %v", e, e)
		}
		if ee.Value < 0 || ee.Value >= len(values) || ee.Offset < 0 || ee.Offset > len(values[ee.Value]) || ee.Reason == "" {
			t.Fatalf("bad ExtensionError %+v", *ee)
		}
	}
}

func BenchmarkParseExtensions(b *testing.B) {
	v := []string{"permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate; client_max_window_bits"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseExtensions(v); err != nil {
			b.Fatal(err)
		}
	}
}
