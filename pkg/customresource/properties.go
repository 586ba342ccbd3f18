package customresource

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidProperties marks a resource's property errors: errors.Is(err, ErrInvalidProperties)
// tells a caller to answer FAILED with the error's text, since no retry can fix it.
var ErrInvalidProperties = errors.New("invalid custom resource properties")

// PropertyError is one invalid property. Its text names the property and says what would be
// accepted, because it becomes the FAILED reason the stack shows; it never holds a secret.
type PropertyError struct {
	Property string
	Msg      string
}

func (e *PropertyError) Error() string { return e.Property + ": " + e.Msg }

// PropertyErrors collects every problem of one resource's properties, so a user fixes them all
// in one go. The zero value with a ResourceType is ready to use.
type PropertyErrors struct {
	ResourceType string // for example "Custom::CloudHsmCluster"
	List         []*PropertyError
}

// Add records a problem with property.
func (es *PropertyErrors) Add(property, format string, args ...any) {
	es.List = append(es.List, &PropertyError{Property: property, Msg: fmt.Sprintf(format, args...)})
}

// Err is nil when nothing was added, else es itself.
func (es *PropertyErrors) Err() error {
	if len(es.List) == 0 {
		return nil
	}
	return es
}

func (es *PropertyErrors) Error() string {
	parts := make([]string, len(es.List))
	for i, e := range es.List {
		parts[i] = e.Error()
	}
	return "invalid " + es.ResourceType + " properties: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalidProperties) true.
func (es *PropertyErrors) Is(target error) bool { return target == ErrInvalidProperties }
