// Package lazyregexp provides regular expressions compiled on first use instead of at package
// init. Every Lambda links the validators of its domain, but only the entry and plan steps run
// them; compiling at init would make every step pay for them on each cold start (make bench
// measures each function against a hello-world). The standard library has no lazy form, hence
// this wrapper around regexp.MustCompile and sync.Once.
package lazyregexp

import (
	"regexp"
	"sync"
)

// Regexp is a regexp.Regexp compiled the first time it is used; it is safe for concurrent use.
type Regexp struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

// New returns expr, to be compiled on first use. An invalid expr panics then, as
// regexp.MustCompile does; a package test that runs each of its patterns once catches it.
func New(expr string) *Regexp { return &Regexp{expr: expr} }

// Compiled returns the compiled expression.
func (r *Regexp) Compiled() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.expr) })
	return r.re
}

// MatchString reports whether s contains a match of the expression.
func (r *Regexp) MatchString(s string) bool { return r.Compiled().MatchString(s) }

// FindStringSubmatch is regexp.Regexp.FindStringSubmatch.
func (r *Regexp) FindStringSubmatch(s string) []string { return r.Compiled().FindStringSubmatch(s) }

// String returns the source text.
func (r *Regexp) String() string { return r.expr }
