package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// KeyOrganization runs the alerts for an AWS Organization (infra/alerts, infra/forwarder). Absent,
// the alerts stack watches its own account only.
const KeyOrganization = "strongroom:organization"

// Organization modes.
const (
	// OrgModeCentral is the security account's: an organization trail, and an event bus that every
	// account of the organization may put events on, whose events reach the relay.
	OrgModeCentral = "central"
	// OrgModeMember is each other account's: its events are forwarded to the central bus.
	OrgModeMember = "member"
)

// CentralBusName is the name of the central account's organization-wide event bus.
const CentralBusName = "strongroom-alerts"

// Organization is the validated KeyOrganization. The zero value is single-account mode.
type Organization struct {
	// Mode is "", OrgModeCentral or OrgModeMember.
	Mode string `json:"mode"`
	// OrganizationID (central) is the organization whose accounts may put events on the bus.
	OrganizationID string `json:"organizationId,omitempty"`
	// CentralBusArn (member) is the central account's bus.
	CentralBusArn string `json:"centralBusArn,omitempty"`
	// ManagementAccountID (central, optional) is the organization's management account, set when the
	// central stack is deployed in a CloudTrail delegated administrator account instead: the
	// management account owns every organization trail, also one a delegated administrator creates,
	// so the trail's ARN, and every policy that names it, carry the management account's id.
	// Empty: the central stack is deployed in the management account.
	ManagementAccountID string `json:"managementAccountId,omitempty"`
}

var (
	// orgIDRE is the pattern AWS Organizations documents for an organization id.
	orgIDRE = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)
	// centralBusRE is the ARN of the bus central mode creates, in any partition.
	centralBusRE = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:events:[a-z]{2,4}(-[a-z]+)+-[0-9]+:[0-9]{12}:event-bus/` + CentralBusName + `$`)
	// accountIDRE is an AWS account id: 12 digits.
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
)

const (
	orgCentralJSON = `{"mode":"central","organizationId":"o-a1b2c3d4e5"}`
	orgMemberJSON  = `{"mode":"member","centralBusArn":"arn:aws:events:eu-west-1:111122223333:event-bus/` + CentralBusName + `"}`
)

// readOrganization reads KeyOrganization: an object (or its JSON text, as -c gives it) with a mode
// and that mode's one field. Every problem names the key and the field.
func (s *Settings) readOrganization(ctx Lookup) error {
	v := ctx(KeyOrganization)
	if text, ok := v.(string); ok {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return fmt.Errorf("context %s: %q is not JSON (%v); give an object such as %s or %s", KeyOrganization, text, err, orgCentralJSON, orgMemberJSON)
		}
	}
	if v == nil {
		return nil
	}
	if _, ok := v.(map[string]any); !ok {
		return fmt.Errorf("context %s: got %T, want an object such as %s or %s (or no key for a single account)", KeyOrganization, v, orgCentralJSON, orgMemberJSON)
	}
	b, _ := json.Marshal(v)
	var o Organization
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return fmt.Errorf("context %s: %v; want only mode and, for central, organizationId (and managementAccountId in a delegated administrator) or, for member, centralBusArn (got %s)", KeyOrganization, err, b)
	}
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("context %s: %s: %s", KeyOrganization, field, fmt.Sprintf(format, args...)))
	}
	switch o.Mode {
	case OrgModeCentral:
		if !orgIDRE.MatchString(o.OrganizationID) {
			bad("organizationId", "%q is not an organization id (o- and 10 to 32 lowercase letters or digits; the Organizations console shows it)", o.OrganizationID)
		}
		if o.CentralBusArn != "" {
			bad("centralBusArn", "only member mode names the central bus; remove it")
		}
		if o.ManagementAccountID != "" && !accountIDRE.MatchString(o.ManagementAccountID) {
			bad("managementAccountId", "%q is not an account id (12 digits, as a string); set the organization's management account when deploying in a CloudTrail delegated administrator, or remove it when deploying in the management account", o.ManagementAccountID)
		}
	case OrgModeMember:
		if !centralBusRE.MatchString(o.CentralBusArn) {
			bad("centralBusArn", "%q is not the central bus's ARN; set arn:aws:events:<region>:<central account>:event-bus/%s (the central alerts stack's output CentralBusArn)", o.CentralBusArn, CentralBusName)
		}
		if o.OrganizationID != "" {
			bad("organizationId", "only central mode names the organization; remove it")
		}
		if o.ManagementAccountID != "" {
			bad("managementAccountId", "only central mode names the management account (the owner of its organization trail); remove it")
		}
	default:
		bad("mode", "%q is not %s or %s (remove the key for a single account)", o.Mode, OrgModeCentral, OrgModeMember)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.Organization = o
	return nil
}

// IsOrganizationID reports whether id is an AWS Organizations organization id (o- and 10 to 32
// lowercase letters or digits). infra/alerts checks its props with it.
func IsOrganizationID(id string) bool { return orgIDRE.MatchString(id) }

// IsAccountID reports whether id is an AWS account id (12 digits). infra/alerts checks its props
// with it.
func IsAccountID(id string) bool { return accountIDRE.MatchString(id) }

// IsCentralBusArn reports whether arn is the ARN of a central account's organization bus
// (event-bus/CentralBusName). infra/forwarder checks its props with it.
func IsCentralBusArn(arn string) bool { return centralBusRE.MatchString(arn) }
