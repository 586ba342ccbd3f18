package lazyregexp_test

import (
	"sync"
	"testing"

	"github.com/strongroom/strongroom/pkg/lazyregexp"
)

func TestCompilesOnFirstUseOnce(t *testing.T) {
	re := lazyregexp.New(`^id-([0-9a-f]+)$`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); re.MatchString("id-00") }()
	}
	wg.Wait()
	if !re.MatchString("id-0a") || re.MatchString("id-zz") {
		t.Fatal("match results wrong")
	}
	if m := re.FindStringSubmatch("id-ff"); len(m) != 2 || m[1] != "ff" {
		t.Fatalf("submatch %q", m)
	}
	first := re.Compiled()
	if second := re.Compiled(); first != second || re.String() != `^id-([0-9a-f]+)$` {
		t.Fatal("compiled more than once or lost its source")
	}
}

func TestInvalidPanicsOnUse(t *testing.T) {
	re := lazyregexp.New(`(`) // creating it must not panic: that is the point
	defer func() {
		if recover() == nil {
			t.Fatal("an invalid expression did not panic on first use")
		}
	}()
	re.MatchString("x")
}
