package ec2

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// strings of a flattened scalar list ("SubnetId.1", "SubnetId.2", ...).
func stringList(params url.Values, prefix string) []string {
	var out []string
	for _, el := range core.QueryList(params, prefix) {
		out = append(out, el.Get(""))
	}
	return out
}

type filter struct {
	name   string
	values []*regexp.Regexp
}

// parseFilters reads Filter.N.Name and Filter.N.Value.M. Values may use the * and ? wildcards.
func parseFilters(params url.Values, allowed func(string) bool) ([]filter, error) {
	var out []filter
	for _, el := range core.QueryList(params, "Filter") {
		name := el.Get("Name")
		if name == "" {
			return nil, core.Errorf("InvalidParameterValue", "Each Filter needs a Name.")
		}
		if !strings.HasPrefix(name, "tag:") && name != "tag-key" && name != "tag-value" && !allowed(name) {
			return nil, core.Errorf("InvalidParameterValue", "The filter '%s' is invalid", name)
		}
		f := filter{name: name}
		for _, v := range stringList(el, "Value") {
			pat := regexp.QuoteMeta(v)
			pat = strings.ReplaceAll(pat, `\*`, ".*")
			pat = strings.ReplaceAll(pat, `\?`, ".")
			f.values = append(f.values, regexp.MustCompile("^"+pat+"$"))
		}
		out = append(out, f)
	}
	return out, nil
}

// match reports whether a resource with the given attributes and tags passes every filter: a
// filter passes when any of its values matches any of the attribute's values.
func match(filters []filter, attrs map[string][]string, tags []tag) bool {
	for _, f := range filters {
		var have []string
		switch {
		case strings.HasPrefix(f.name, "tag:"):
			for _, t := range tags {
				if t.key == strings.TrimPrefix(f.name, "tag:") {
					have = append(have, t.value)
				}
			}
		case f.name == "tag-key":
			for _, t := range tags {
				have = append(have, t.key)
			}
		case f.name == "tag-value":
			for _, t := range tags {
				have = append(have, t.value)
			}
		default:
			have = attrs[f.name]
		}
		if !slices.ContainsFunc(have, func(h string) bool {
			return slices.ContainsFunc(f.values, func(re *regexp.Regexp) bool { return re.MatchString(h) })
		}) {
			return false
		}
	}
	return true
}

func keysOf(m map[string][]string) func(string) bool {
	return func(name string) bool { _, ok := m[name]; return ok }
}
