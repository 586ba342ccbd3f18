package stacktest

import "github.com/strongroom/strongroom/pkg/sandbox"

// SiteWant is what a fault matrix would inject at one call site: its operation's named exception
// (Named), and throttling twice and one 5xx (Transient).
type SiteWant struct {
	Site             sandbox.CallSite
	Named, Transient bool
}

// SiteFault is one case of a fault matrix: a fault of Kind at Site, for Count calls. A FaultError
// takes the operation's named exception, which the matrix knows.
type SiteFault struct {
	Site  sandbox.CallSite
	Kind  sandbox.FaultKind
	Count int
}

// SampleFaults turns a phase's wants into cases. full gives every site what it wants: the named
// exception, throttling twice and one 5xx. Otherwise (a matrix's default) what every site of an
// operation would show is shown once: every step builds its clients with pkg/lambdaenv's one SDK
// retryer, and every Lambda task state has the same Retry and a catch-all (statemachines'
// TestEveryLambdaTaskRetriesAndCatches). So a transient fault goes to the first two sites of each
// operation in the phase, throttling at the first and a 5xx at the second; and a refused Lambda
// invocation only to a function with no named fault at a site of its own calls, since any other
// reaches its state's catch-all through its own. Every named fault at an operation of the
// functions' own stays.
func SampleFaults(wants []SiteWant, full bool) []SiteFault {
	invoke := func(s sandbox.CallSite) bool { return s.Service == "lambda" && s.Operation == "Invoke" }
	ownNamed := map[string]bool{}
	for _, w := range wants {
		if w.Named && !invoke(w.Site) {
			ownNamed[w.Site.Function] = true
		}
	}
	var out []SiteFault
	perOperation := map[string]int{}
	for _, w := range wants {
		s := w.Site
		if w.Named && (full || !invoke(s) || !ownNamed[s.Function]) {
			out = append(out, SiteFault{Site: s, Kind: sandbox.FaultError, Count: 1})
		}
		if !w.Transient {
			continue
		}
		throttle, internal := SiteFault{Site: s, Kind: sandbox.FaultThrottle, Count: 2}, SiteFault{Site: s, Kind: sandbox.FaultInternal, Count: 1}
		if full {
			out = append(out, throttle, internal)
			continue
		}
		op := s.Service + " " + s.Operation
		switch perOperation[op] {
		case 0:
			out = append(out, throttle)
		case 1:
			out = append(out, internal)
		}
		perOperation[op]++
	}
	return out
}
