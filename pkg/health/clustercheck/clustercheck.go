// Package clustercheck is the CloudHSM cluster's health check: the cluster's state, its ACTIVE
// HSMs against the HsmCount it was declared with and the zones they are in, the age of its newest
// backup, and the expiry of its certificates and of the customer CA that signed them.
package clustercheck

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/health"
	"github.com/strongroom/strongroom/pkg/health/emit"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"
)

// ResourceType is the custom resource whose clusters this package checks.
const ResourceType = "Custom::CloudHsmCluster"

// BackupBound is how old the newest READY backup may be. CloudHSM backs an active cluster up at
// least once every 24 hours (and after HSM and user changes); 36 hours leaves a missed day seen
// within half a day without alerting on a backup that is merely late.
const BackupBound = 36 * time.Hour

// API is what Check calls: DescribeClusters and DescribeBackups of CloudHSM, and GetSecretValue of
// the customer CA certificate's secret.
type API interface {
	clusterapi.ClusterDescriber
	DescribeBackups(ctx context.Context, params *cloudhsmv2.DescribeBackupsInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DescribeBackupsOutput, error)
}

// SecretReader reads the customer CA certificate (a certificate, public; it is kept in Secrets
// Manager beside the CA's private key, which Check never reads).
type SecretReader interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Target is what Check needs of the declared cluster.
type Target struct {
	ClusterID string
	HsmCount  int
	// CACertSecret names the secret holding the customer CA certificate (PEM).
	CACertSecret string
}

// transient states are a workflow's or CloudHSM's change under way: no cluster-state finding.
var transient = map[types.ClusterState]bool{
	types.ClusterStateUpdateInProgress: true,
	types.ClusterStateModifyInProgress: true,
}

// Check reports every condition it can judge. A cluster CloudHSM does not list, or one being
// deleted, is only the cluster-state finding: its HSMs, backups and certificates no longer matter.
func Check(ctx context.Context, api API, secrets SecretReader, t Target, now time.Time) ([]health.Finding, error) {
	c, err := clusterapi.FindCluster(ctx, api, t.ClusterID)
	if err != nil {
		return nil, fmt.Errorf("check cluster %s: %w", t.ClusterID, err)
	}
	id := t.ClusterID
	bad := func(cond, severity, summary, fix string) health.Finding {
		return health.Unhealthy(ResourceType, id, cond, severity, summary, fix, now)
	}
	good := func(cond, summary string) health.Finding { return health.Healthy(ResourceType, id, cond, summary, now) }
	if c == nil {
		return []health.Finding{bad(health.ClusterState, health.Critical,
			fmt.Sprintf("CloudHSM lists no cluster %s: it was deleted outside its stack, with its keys unless a backup remains", id),
			"find who deleted it in CloudTrail (DeleteCluster); restore it from its latest backup (SourceBackupId) by replacing the stack's cluster resource")}, nil
	}
	var out []health.Finding
	switch state := c.State; {
	case state == types.ClusterStateActive:
		out = append(out, good(health.ClusterState, fmt.Sprintf("cluster %s is ACTIVE", id)))
	case transient[state]:
	default:
		why := aws.ToString(c.StateMessage)
		if why == "" {
			why = "CloudHSM gives no message"
		}
		f := bad(health.ClusterState, health.Critical, fmt.Sprintf("cluster %s is %s, not ACTIVE (%s): keys on it may be unusable", id, state, why),
			"read the cluster's StateMessage (aws cloudhsmv2 describe-clusters) and its workflow executions; a DEGRADED cluster needs AWS Support")
		if state == types.ClusterStateDeleteInProgress || state == types.ClusterStateDeleted {
			return []health.Finding{f}, nil
		}
		out = append(out, f)
	}
	out = append(out, hsms(c, t, bad, good)...)
	b, err := backupAge(ctx, api, c, now, bad, good)
	if err != nil {
		return nil, err
	}
	out = append(out, b...)
	certs, err := certificates(ctx, secrets, c, t, now)
	if err != nil {
		return nil, err
	}
	return append(out, certs...), nil
}

type judge func(cond, severity, summary, fix string) health.Finding

// hsms judges the ACTIVE HSMs against HsmCount, and the zones they are in. While an HSM is being
// created or deleted the count is on its way somewhere (a scale, a replacement), so neither is
// judged.
func hsms(c *types.Cluster, t Target, bad judge, good func(cond, summary string) health.Finding) []health.Finding {
	zones := map[string]bool{}
	active := 0
	for _, h := range c.Hsms {
		switch h.State {
		case types.HsmStateCreateInProgress, types.HsmStateDeleteInProgress:
			return nil
		case types.HsmStateActive:
			active++
			zones[aws.ToString(h.AvailabilityZone)] = true
		}
	}
	id := t.ClusterID
	var out []health.Finding
	switch {
	case active >= t.HsmCount:
		out = append(out, good(health.ClusterHsms, fmt.Sprintf("cluster %s has %d ACTIVE HSMs (HsmCount %d)", id, active, t.HsmCount)))
	default:
		severity := health.Warning
		if active < 2 {
			severity = health.Critical // one HSM left (or none): the next failure loses the cluster's service
		}
		out = append(out, bad(health.ClusterHsms, severity,
			fmt.Sprintf("cluster %s has %d ACTIVE HSMs of the %d its HsmCount declares", id, active, t.HsmCount),
			"see which HSM is DEGRADED or missing (aws cloudhsmv2 describe-clusters); delete a DEGRADED HSM and update the stack (or run its Update) so the workflow adds HSMs back to HsmCount"))
	}
	names := make([]string, 0, len(zones))
	for z := range zones {
		names = append(names, z)
	}
	sort.Strings(names)
	if len(names) >= 2 {
		return append(out, good(health.ClusterZones, fmt.Sprintf("cluster %s has ACTIVE HSMs in %d zones %v", id, len(names), names)))
	}
	return append(out, bad(health.ClusterZones, health.Warning,
		fmt.Sprintf("cluster %s has ACTIVE HSMs in %d zone(s) %v: one zone's outage stops the cluster", id, len(names), names),
		"declare HsmCount 2 or more with SubnetIds in at least two Availability Zones"))
}

// backupAge judges the newest READY backup of the cluster. A cluster younger than BackupBound with
// no backup yet is not judged.
func backupAge(ctx context.Context, api API, c *types.Cluster, now time.Time, bad judge, good func(cond, summary string) health.Finding) ([]health.Finding, error) {
	id := aws.ToString(c.ClusterId)
	var newest time.Time
	in := &cloudhsmv2.DescribeBackupsInput{Filters: map[string][]string{"clusterIds": {id}, "states": {string(types.BackupStateReady)}}}
	for p := cloudhsmv2.NewDescribeBackupsPaginator(api, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("check the backups of cluster %s: %w", id, err)
		}
		for _, b := range page.Backups {
			if at := aws.ToTime(b.CreateTimestamp); at.After(newest) {
				newest = at
			}
		}
	}
	fix := "check the cluster is ACTIVE with at least one ACTIVE HSM (CloudHSM backs up only then); if it is, ask AWS Support why no backup was taken"
	switch {
	case newest.IsZero() && now.Sub(aws.ToTime(c.CreateTimestamp)) < BackupBound:
		return nil, nil
	case newest.IsZero():
		return []health.Finding{bad(health.BackupAge, health.Warning, fmt.Sprintf("cluster %s has no READY backup", id), fix)}, nil
	case now.Sub(newest) > BackupBound:
		return []health.Finding{bad(health.BackupAge, health.Warning,
			fmt.Sprintf("the newest READY backup of cluster %s is from %s, %d hours ago (the bound is %d)", id, newest.UTC().Format(time.RFC3339), int(now.Sub(newest).Hours()), int(BackupBound.Hours())), fix)}, nil
	}
	return []health.Finding{good(health.BackupAge, fmt.Sprintf("the newest READY backup of cluster %s is from %s", id, newest.UTC().Format(time.RFC3339)))}, nil
}

// certificates judges the customer CA certificate (from its secret) and the cluster's own
// certificates CloudHSM reports, each by name. An uninitialized cluster has none of its own yet.
func certificates(ctx context.Context, secrets SecretReader, c *types.Cluster, t Target, now time.Time) ([]health.Finding, error) {
	id := t.ClusterID
	renewCA := "issue a new customer CA certificate for the same key, store it in " + t.CACertSecret + " and copy it to /opt/cloudhsm/etc/customerCA.crt on every client"
	var out []health.Finding
	if t.CACertSecret != "" {
		v, err := secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(t.CACertSecret)})
		if err != nil {
			return nil, fmt.Errorf("check cluster %s: read the customer CA certificate from secret %s: %w", id, t.CACertSecret, err)
		}
		out = append(out, health.Certificate(ResourceType, id, "customer-ca", []byte(aws.ToString(v.SecretString)), now, renewCA))
	}
	if c.Certificates == nil {
		return out, nil
	}
	hsmFix := "CloudHSM issues these certificates; ask AWS Support before they expire"
	for _, cert := range []struct{ name, pem, fix string }{
		{"cluster", aws.ToString(c.Certificates.ClusterCertificate), "the customer CA signed it at initialization; ask AWS Support how to re-issue it before it expires"},
		{"hsm", aws.ToString(c.Certificates.HsmCertificate), hsmFix},
		{"aws-hardware", aws.ToString(c.Certificates.AwsHardwareCertificate), hsmFix},
		{"manufacturer-hardware", aws.ToString(c.Certificates.ManufacturerHardwareCertificate), hsmFix},
	} {
		if cert.pem != "" {
			out = append(out, health.Certificate(ResourceType, id, cert.name, []byte(cert.pem), now, cert.fix))
		}
	}
	return out, nil
}

// Step is the cluster-health function: it checks the cluster and sends the findings.
type Step struct {
	HSM     API
	Secrets SecretReader
	Events  emit.Putter
	Now     func() time.Time
}

// Handle checks the cluster in.ResourceID against the properties it was declared with and sends
// what it found. Properties that do not parse are refused with the parser's reason (which names
// the property).
func (s *Step) Handle(ctx context.Context, in health.Input) (health.Report, error) {
	if in.ResourceID == "" {
		return health.Report{}, fmt.Errorf("%w: ResourceId is empty; the rule's input must carry the cluster resource's PhysicalResourceId", health.ErrInvalid)
	}
	spec, err := hsmcluster.Parse(in.Properties, hsmcluster.Defaults{})
	if err != nil {
		return health.Report{}, fmt.Errorf("%w: Properties: %v", health.ErrInvalid, err)
	}
	findings, err := Check(ctx, s.HSM, s.Secrets, Target{ClusterID: in.ResourceID, HsmCount: spec.HsmCount, CACertSecret: spec.CACertSecretName}, s.Now())
	if err != nil {
		return health.Report{}, err
	}
	if err := emit.Send(ctx, s.Events, "", findings); err != nil {
		return health.Report{}, err
	}
	return health.ReportOf(findings), nil
}
