package sandbox

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestMatcherAgreesWithContains: the one-pass matcher finds a pattern in a text exactly when
// bytes.Contains does, over random texts and patterns drawn from a small alphabet (so patterns
// overlap, share prefixes and sit at the text's ends), and patterns cut from the texts themselves.
func TestMatcherAgreesWithContains(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "ab\"\\x"[r.IntN(5)]
		}
		return b
	}
	hits := 0
	for round := 0; round < 300; round++ {
		text := word(r.IntN(200))
		forms := make([]string, 1+r.IntN(12))
		for i := range forms {
			if len(text) >= 8 && r.IntN(2) == 0 {
				at := r.IntN(len(text) - 3)
				forms[i] = string(text[at : at+4+r.IntN(min(8, len(text)-at-4)+1)])
			} else {
				forms[i] = string(word(4 + r.IntN(5)))
			}
		}
		got := newMatcher(forms).find(text)
		for i, f := range forms {
			want := bytes.Contains(text, []byte(f))
			if got[i] != want {
				t.Fatalf("pattern %q in %q: matcher %v, bytes.Contains %v", f, text, got[i], want)
			}
			if want {
				hits++
			}
		}
	}
	if hits == 0 {
		t.Fatal("no pattern occurred in any text: the comparison proved nothing")
	}
}
