// Answers to CloudFormation: they build on aws-lambda-go's cfn.Response (the PUT to the pre-signed
// ResponseURL) and add what that type leaves to the caller: a PhysicalResourceId on every answer
// (CloudFormation rejects an empty one, and a failed Create must still name whatever it created so
// the rollback's Delete can remove it), and the 4,096-byte limit on the response body, met by
// shortening the Reason and refusing oversized Data instead of letting CloudFormation reject the
// answer and wait an hour.

package customresource

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
)

// MaxBody is CloudFormation's limit on a custom-resource response body.
const MaxBody = 4096

// NoResourcePrefix starts the PhysicalResourceId of a Create that failed before it made anything.
// A Delete for such an id has nothing to remove and succeeds at once.
const NoResourcePrefix = "strongroom-none-"

// Outcome is what a workflow decided.
type Outcome struct {
	Status cfn.StatusType `json:"Status"`
	// PhysicalResourceID names what exists (for example a cluster id). Empty means: keep the
	// event's id (Update, Delete) or, for a Create, that nothing was made.
	PhysicalResourceID string         `json:"PhysicalResourceId,omitempty"`
	Reason             string         `json:"Reason,omitempty"`
	Data               map[string]any `json:"Data,omitempty"`
	NoEcho             bool           `json:"NoEcho,omitempty"`
}

// ErrDataTooLarge is returned when Data alone does not fit in a response.
var ErrDataTooLarge = errors.New("custom resource Data does not fit in CloudFormation's 4096-byte response")

// Build makes the response for ev. A FAILED answer always carries a Reason; Reason is shortened
// (with a visible marker) until the body fits MaxBody.
func Build(ev *cfn.Event, o Outcome) (*cfn.Response, error) {
	if o.Status != cfn.StatusSuccess && o.Status != cfn.StatusFailed {
		return nil, fmt.Errorf("outcome status %q: want SUCCESS or FAILED", o.Status)
	}
	r := cfn.NewResponse(ev)
	r.Status = o.Status
	r.PhysicalResourceID = PhysicalID(ev, o.PhysicalResourceID)
	r.Reason = strings.ToValidUTF8(o.Reason, "?")
	r.Data = o.Data
	r.NoEcho = o.NoEcho
	if r.Status == cfn.StatusFailed && strings.TrimSpace(r.Reason) == "" {
		r.Reason = "the workflow failed without a reason; see its execution history"
	}
	const marker = " [...truncated]"
	for {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode response: %w", err)
		}
		over := len(b) - MaxBody
		if over <= 0 {
			return r, nil
		}
		if len(r.Reason) <= len(marker) {
			return nil, ErrDataTooLarge
		}
		cut := len(r.Reason) - over - len(marker) - 8
		if cut < 0 {
			cut = 0
		}
		r.Reason = strings.ToValidUTF8(r.Reason[:cut], "") + marker
	}
}

// PhysicalID chooses the answer's PhysicalResourceId: the workflow's own when it has one, else the
// event's (Update and Delete must keep it), else a marker naming no resource.
func PhysicalID(ev *cfn.Event, fromWorkflow string) string {
	switch {
	case fromWorkflow != "":
		return fromWorkflow
	case ev.PhysicalResourceID != "":
		return ev.PhysicalResourceID
	default:
		return NoResourcePrefix + ev.RequestID
	}
}

// NamesNoResource reports whether a PhysicalResourceId was given by a Create that made nothing.
func NamesNoResource(id string) bool { return id == "" || strings.HasPrefix(id, NoResourcePrefix) }
