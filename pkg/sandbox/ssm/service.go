// Package ssm is the sandbox's AWS Systems Manager Run Command (API version 2014-11-06), spoken
// over JSON 1.1 with X-Amz-Target AmazonSSM.<Operation>.
//
// Operations: SendCommand, CancelCommand, GetCommandInvocation, ListCommandInvocations,
// ListCommands, CreateDocument, DescribeDocument, GetDocument.
//
// The emulated client instance (the EC2 sandbox's instance, checked through Instances) runs every
// aws:runShellScript document as the SSM agent does (execute.go): the parameters substituted, the
// script written to the agent's orchestration directory and run by the shell on a root directory
// of its own (opt/cloudhsm with the CloudHSM client, a home, a tmp), with a PATH whose `aws` is
// Debian's AWS CLI pointed at the sandbox with the instance role's credentials and whose
// cloudhsm-cli and configure-cli are package hsmclient's stand-ins, which reach the emulated
// cluster (HSM). Its stdout, stderr and exit code become the invocation's output, ResponseCode and
// status; a run longer than the step's timeoutSeconds is killed and ends TimedOut. Nothing here
// knows a document by name or content: the documents registered at start (WithDocuments) are
// those the CDK app would deploy. Sandbox time stands still while a script runs.
//
// Timing on the sandbox clock (Timings): an invocation is not visible for a moment after
// SendCommand (GetCommandInvocation answers InvocationDoesNotExist, as AWS's eventual consistency
// does), then Pending, InProgress, and Success/Failed. An instance that is not running leaves the
// invocation Pending until TimeoutSeconds, then TimedOut ("Delivery Timed Out").
//
// Known differences from AWS: one plugin per document (aws:runShellScript; others fail); no S3/CloudWatch output, notifications,
// targets by tag or rate controls; documents are Active at once and have one
// version; only JSON documents; stdout/stderr limits as documented (24,000 / 8,000 characters).
package ssm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/hsmclient"
)

// Output limits of GetCommandInvocation and of ListCommandInvocations' plugin output.
const (
	maxStdout       = 24000
	maxStderr       = 8000
	maxPluginOutput = 2500
)

// Instances tells which managed instances exist and run (*ec2.Service satisfies it).
type Instances interface {
	InstanceRunning(instanceID string) bool
}

// HSM is the emulated cluster as the instance's CloudHSM client reaches it.
type HSM = hsmclient.HSM

// Timings are the sandbox durations of an invocation's phases.
type Timings struct {
	// Visible is how long GetCommandInvocation answers InvocationDoesNotExist after SendCommand
	// (observed: under a second).
	Visible time.Duration
	// Deliver is Pending -> InProgress on a running instance.
	Deliver time.Duration
	// Run is how long the agent takes, once InProgress, to start the script (the script's own run
	// takes no sandbox time: the clock stands still while it runs).
	Run time.Duration
}

// DefaultTimings are what New uses.
var DefaultTimings = Timings{Visible: time.Second, Deliver: 2 * time.Second, Run: 12 * time.Second}

// Option configures a Service.
type Option func(*Service)

// WithTimings replaces DefaultTimings.
func WithTimings(t Timings) Option { return func(s *Service) { s.timings = t } }

// WithDocuments registers documents (name to JSON content) at start, as a deployment would have
// created them.
func WithDocuments(docs map[string]string) Option {
	return func(s *Service) { s.initialDocs = docs }
}

// WithAccount sets the owner account of documents (default 123456789012).
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// WithNetwork puts the VPC between the instances and the HSMs: each cloudhsm-cli connection is
// judged by the security groups (hsmclient.Network). Without it every connection goes through.
func WithNetwork(n hsmclient.Network) Option { return func(s *Service) { s.network = n } }

// Service is the emulated SSM. It is safe for concurrent use.
type Service struct {
	core.JSONProtocol
	clock       core.Clock
	instances   Instances
	hsm         HSM
	network     hsmclient.Network
	timings     Timings
	aws         AWSAccess
	initialDocs map[string]string
	core.Place

	hostMu   sync.Mutex
	host     *host           // the instances' machine, started by the first script
	runs     context.Context // parent of every script run; Close cancels it
	stopRuns context.CancelFunc

	mu       sync.Mutex
	docs     map[string]*document
	commands map[string]*command
	corder   []string
	timers   *core.Timers
}

// New returns an SSM whose instances' CloudHSM client reaches hsm.
func New(clock core.Clock, instances Instances, hsm HSM, opts ...Option) *Service {
	s := &Service{
		JSONProtocol: identity, clock: clock, instances: instances, hsm: hsm, timings: DefaultTimings,
		Place: core.DefaultPlace, docs: map[string]*document{}, commands: map[string]*command{},
	}
	s.timers = core.NewTimers(clock, &s.mu)
	s.runs, s.stopRuns = context.WithCancel(context.Background())
	core.Configure(s, opts)
	for _, name := range sortedKeys(s.initialDocs) {
		d, err := parseDocument(name, s.initialDocs[name], s.clock.Now())
		if err != nil {
			panic(fmt.Sprintf("ssm: document %s given at start: %v", name, err)) // a bug in the caller
		}
		s.docs[name] = d
	}
	return s
}

// Close stops every pending invocation step and every running script, and removes the instances'
// roots.
func (s *Service) Close() {
	s.stopRuns()
	s.timers.Close()
	s.hostMu.Lock()
	defer s.hostMu.Unlock()
	s.host.close()
}

// identity is how SSM is addressed on the wire.
var identity = core.NewJSONProtocol("ssm", "AmazonSSM", "1.1")

var (
	_ core.JSONService = (*Service)(nil)
	_ core.FaultCodes  = (*Service)(nil)
)

// InternalError implements core.FaultCodes.
func (s *Service) InternalError() *core.Error {
	return core.StatusErrorf(http.StatusInternalServerError, "InternalServerError", "An error occurred on the server side.")
}

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"SendCommand":            core.Handler(s.sendCommand),
		"CancelCommand":          core.Handler(s.cancelCommand),
		"GetCommandInvocation":   core.Handler(s.getCommandInvocation),
		"ListCommandInvocations": core.Handler(s.listCommandInvocations),
		"ListCommands":           core.Handler(s.listCommands),
		"CreateDocument":         core.Handler(s.createDocument),
		"DescribeDocument":       core.Handler(s.describeDocument),
		"GetDocument":            core.Handler(s.getDocument),
	}
}

// document is a registered Command document.
type document struct {
	name, content, hash, description, schema string
	created                                  time.Time
	params                                   []docParam
	step                                     string
	parsed                                   hsmdocs.Document
}

type docParam struct {
	Name         string `json:"Name"`
	Type         string `json:"Type"`
	Description  string `json:"Description,omitempty"`
	DefaultValue string `json:"DefaultValue,omitempty"`
}

func parseDocument(name, content string, now time.Time) (*document, error) {
	var d hsmdocs.Document
	if err := json.Unmarshal([]byte(content), &d); err != nil {
		return nil, fmt.Errorf("content is not a JSON document: %v", err)
	}
	if d.SchemaVersion == "" || len(d.MainSteps) == 0 {
		return nil, fmt.Errorf("a Command document needs schemaVersion and mainSteps")
	}
	sum := sha256.Sum256([]byte(content))
	doc := &document{
		name: name, content: content, hash: hex.EncodeToString(sum[:]), description: d.Description,
		schema: d.SchemaVersion, created: now, step: d.MainSteps[0].Name, parsed: d,
	}
	for _, p := range sortedKeys(d.Parameters) {
		def := d.Parameters[p]
		doc.params = append(doc.params, docParam{Name: p, Type: def.Type, Description: def.Description, DefaultValue: def.Default})
	}
	return doc, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var docNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_\-.]{3,128}$`)

type createDocumentInput struct {
	Content        string `json:"Content"`
	Name           string `json:"Name"`
	DocumentType   string `json:"DocumentType"`
	DocumentFormat string `json:"DocumentFormat"`
	VersionName    string `json:"VersionName"`
	TargetType     string `json:"TargetType"`
}

func (s *Service) createDocument(_ context.Context, in createDocumentInput) (any, error) {
	if !docNamePattern.MatchString(in.Name) {
		return nil, core.Errorf("ValidationException", "Document name '%s' must match ^[a-zA-Z0-9_\\-.]{3,128}$.", in.Name)
	}
	lower := strings.ToLower(in.Name)
	if strings.HasPrefix(lower, "aws") || strings.HasPrefix(lower, "amazon") {
		return nil, core.Errorf("ValidationException", "Document name '%s' uses a reserved prefix (aws, amazon).", in.Name)
	}
	if in.DocumentType != "" && in.DocumentType != "Command" {
		return nil, core.Errorf("InvalidDocumentType", "The sandbox supports only Command documents, not %s.", in.DocumentType)
	}
	if in.DocumentFormat != "" && in.DocumentFormat != "JSON" {
		return nil, core.Errorf("InvalidDocumentContent", "The sandbox reads only JSON documents, not %s.", in.DocumentFormat)
	}
	if len(in.Content) > 64*1024 {
		return nil, core.Errorf("MaxDocumentSizeExceeded", "The content exceeds the maximum document size of 64 KB.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[in.Name]; ok {
		return nil, core.Errorf("DocumentAlreadyExists", "Document with same name %s already exists", in.Name)
	}
	d, err := parseDocument(in.Name, in.Content, s.clock.Now())
	if err != nil {
		return nil, core.Errorf("InvalidDocumentContent", "%v", err)
	}
	if d.schema != "2.2" && d.schema != "1.2" && d.schema != "2.0" {
		return nil, core.Errorf("InvalidDocumentSchemaVersion", "Command documents support schemaVersion 1.2, 2.0 and 2.2, not %s.", d.schema)
	}
	s.docs[in.Name] = d
	return map[string]any{"DocumentDescription": s.describe(d)}, nil
}

func (s *Service) describe(d *document) map[string]any {
	return map[string]any{
		"Name": d.name, "Owner": s.Account(), "CreatedDate": core.EpochTime(d.created), "Status": "Active",
		"DocumentVersion": "1", "LatestVersion": "1", "DefaultVersion": "1", "Description": d.description,
		"Parameters": d.params, "PlatformTypes": []string{"Linux", "MacOS"}, "DocumentType": "Command",
		"SchemaVersion": d.schema, "DocumentFormat": "JSON", "Hash": d.hash, "HashType": "Sha256",
	}
}

type nameInput struct {
	Name            string `json:"Name"`
	DocumentVersion string `json:"DocumentVersion"`
}

func (s *Service) docLocked(name, version string) (*document, error) {
	d, ok := s.docs[name]
	if !ok {
		return nil, core.Errorf("InvalidDocument", "Document with name %s does not exist.", name)
	}
	if version != "" && version != "1" && version != "$LATEST" && version != "$DEFAULT" {
		return nil, core.Errorf("InvalidDocumentVersion", "Document %s has no version %s.", name, version)
	}
	return d, nil
}

// onDocument answers an operation on the document in names, in a version it has, under the lock.
func (s *Service) onDocument(in nameInput, op func(d *document) map[string]any) (any, error) {
	find := func(name string) (*document, error) { return s.docLocked(name, in.DocumentVersion) }
	return core.Locked(&s.mu, find, in.Name, func(d *document) (any, error) { return op(d), nil })
}

func (s *Service) describeDocument(_ context.Context, in nameInput) (any, error) {
	return s.onDocument(in, func(d *document) map[string]any { return map[string]any{"Document": s.describe(d)} })
}

func (s *Service) getDocument(_ context.Context, in nameInput) (any, error) {
	return s.onDocument(in, func(d *document) map[string]any {
		return map[string]any{
			"Name": d.name, "CreatedDate": core.EpochTime(d.created), "DocumentVersion": "1", "Status": "Active",
			"Content": d.content, "DocumentType": "Command", "DocumentFormat": "JSON",
		}
	})
}
