package ssm

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Invocation statuses (CommandInvocationStatus) and the command-level ones.
const (
	StatusPending    = "Pending"
	StatusInProgress = "InProgress"
	StatusSuccess    = "Success"
	StatusFailed     = "Failed"
	StatusTimedOut   = "TimedOut"
	StatusCancelled  = "Cancelled"
)

type command struct {
	id, docName, comment string
	params               map[string][]string
	values               map[string]string // checked, with defaults
	instanceIDs          []string
	timeout              int
	requested            time.Time
	doc                  *document
	invocations          map[string]*invocation
}

type invocation struct {
	instanceID        string
	visible           bool
	status, details   string
	responseCode      int
	started, finished time.Time
	stdout, stderr    string
	cancel            context.CancelFunc // stops the running script
}

type sendCommandInput struct {
	DocumentName    string              `json:"DocumentName"`
	DocumentVersion string              `json:"DocumentVersion"`
	InstanceIds     []string            `json:"InstanceIds"`
	Targets         []json.RawMessage   `json:"Targets"`
	Parameters      map[string][]string `json:"Parameters"`
	TimeoutSeconds  *int                `json:"TimeoutSeconds"`
	Comment         string              `json:"Comment"`
}

func (s *Service) sendCommand(_ context.Context, in sendCommandInput) (any, error) {
	if in.DocumentName == "" {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value null at 'documentName' failed to satisfy constraint: Member must not be null")
	}
	if len(in.Targets) > 0 {
		return nil, core.Errorf("ValidationException", "The sandbox supports InstanceIds, not Targets.")
	}
	if len(in.InstanceIds) == 0 || len(in.InstanceIds) > 50 {
		return nil, core.Errorf("ValidationException", "Specify 1 to 50 InstanceIds.")
	}
	timeout := 3600
	if in.TimeoutSeconds != nil {
		if *in.TimeoutSeconds < 30 || *in.TimeoutSeconds > 2592000 {
			return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'timeoutSeconds' failed to satisfy constraint: Member must have value between 30 and 2592000", *in.TimeoutSeconds)
		}
		timeout = *in.TimeoutSeconds
	}
	if len(in.Comment) > 100 {
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value at 'comment' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	seen := map[string]bool{}
	for _, id := range in.InstanceIds {
		if seen[id] {
			return nil, core.Errorf("DuplicateInstanceId", "Instance %s is listed more than once.", id)
		}
		seen[id] = true
		if !s.instances.InstanceRunning(id) {
			return nil, core.Errorf("InvalidInstanceId", "Instances [[%s]] not in a valid state for account %s", id, s.Account())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.docLocked(in.DocumentName, in.DocumentVersion)
	if err != nil {
		return nil, err
	}
	flat := map[string]string{}
	for k, v := range in.Parameters {
		if len(v) != 1 {
			return nil, core.Errorf("InvalidParameters", "Parameter %q takes exactly one value.", k)
		}
		flat[k] = v[0]
	}
	values, err := d.parsed.CheckParameters(flat)
	if err != nil {
		return nil, core.Errorf("InvalidParameters", "document %s does not support the parameters: %v", d.name, err)
	}
	c := &command{
		id: core.NewUUID(), docName: d.name, comment: in.Comment, params: in.Parameters, values: values,
		instanceIDs: in.InstanceIds, timeout: timeout, requested: s.clock.Now(), doc: d,
		invocations: map[string]*invocation{},
	}
	for _, id := range in.InstanceIds {
		inv := &invocation{instanceID: id, status: StatusPending, details: "Pending", responseCode: -1}
		c.invocations[id] = inv
		s.schedule(c, inv)
	}
	s.commands[c.id] = c
	s.corder = append(s.corder, c.id)
	return map[string]any{"Command": s.wireCommand(c)}, nil
}

// schedule moves an invocation through its phases. Caller holds s.mu.
func (s *Service) schedule(c *command, inv *invocation) {
	s.timers.Later(s.timings.Visible, func() { inv.visible = true })
	s.timers.Later(s.timings.Deliver, func() {
		if !s.instances.InstanceRunning(inv.instanceID) {
			// Undeliverable until the delivery timeout passes.
			if inv.status != StatusPending {
				return
			}
			s.timers.Later(time.Duration(c.timeout)*time.Second-s.timings.Deliver, func() {
				if inv.status == StatusPending {
					inv.status, inv.details, inv.finished = StatusTimedOut, "Delivery Timed Out", s.clock.Now()
				}
			})
			return
		}
		if inv.status != StatusPending { // cancelled
			return
		}
		inv.status, inv.details, inv.started = StatusInProgress, "In Progress", s.clock.Now()
		s.timers.Later(s.timings.Run, func() {
			if inv.status != StatusInProgress { // cancelled before the script ran
				return
			}
			ctx, cancel := context.WithCancel(s.runs)
			inv.cancel = cancel
			// The script runs without s.mu: it calls other services, which may take time.
			s.mu.Unlock()
			r := s.execute(ctx, c, inv.instanceID)
			s.mu.Lock()
			cancel()
			inv.cancel = nil
			if inv.status != StatusInProgress { // cancelled while it ran
				return
			}
			inv.stdout, inv.stderr, inv.finished = truncate(r.stdout, maxStdout), truncate(r.stderr, maxStderr), s.clock.Now()
			switch {
			case r.timedOut:
				inv.status, inv.details, inv.responseCode = StatusTimedOut, "Execution Timed Out", r.code
			case r.code == 0:
				inv.status, inv.details, inv.responseCode = StatusSuccess, "Success", 0
			default:
				inv.status, inv.details, inv.responseCode = StatusFailed, "Failed", r.code
			}
		})
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (s *Service) wireCommand(c *command) map[string]any {
	status, completed, errors := StatusSuccess, 0, 0
	pending := false
	for _, inv := range c.invocations {
		switch inv.status {
		case StatusPending, StatusInProgress:
			pending = true
			if inv.status == StatusInProgress {
				status = StatusInProgress
			}
		case StatusSuccess:
			completed++
		default:
			completed++
			errors++
		}
	}
	switch {
	case pending && status != StatusInProgress:
		status = StatusPending
	case pending:
	case errors > 0 && len(c.invocations) == 1:
		for _, inv := range c.invocations {
			status = inv.status
		}
	case errors > 0:
		status = StatusFailed
	}
	params := c.params
	if params == nil {
		params = map[string][]string{}
	}
	return map[string]any{
		"CommandId": c.id, "DocumentName": c.docName, "DocumentVersion": "1", "Comment": c.comment,
		"ExpiresAfter": core.EpochTime(c.requested.Add(time.Duration(c.timeout) * time.Second)),
		"Parameters":   params, "InstanceIds": c.instanceIDs, "Targets": []any{},
		"RequestedDateTime": core.EpochTime(c.requested), "Status": status, "StatusDetails": statusDetails(status),
		"MaxConcurrency": "50", "MaxErrors": "0", "TargetCount": len(c.invocations),
		"CompletedCount": completed, "ErrorCount": errors, "DeliveryTimedOutCount": 0, "TimeoutSeconds": c.timeout,
	}
}

func statusDetails(status string) string {
	if status == StatusInProgress {
		return "In Progress"
	}
	return status
}

type getInvocationInput struct {
	CommandId  string `json:"CommandId"`
	InstanceId string `json:"InstanceId"`
	PluginName string `json:"PluginName"`
}

// ssmTime is the string form GetCommandInvocation uses for its times.
func ssmTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func (s *Service) getCommandInvocation(_ context.Context, in getInvocationInput) (any, error) {
	if in.CommandId == "" || in.InstanceId == "" {
		return nil, core.Errorf("ValidationException", "CommandId and InstanceId are required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commands[in.CommandId]
	if !ok {
		if len(in.CommandId) != 36 {
			return nil, core.Errorf("InvalidCommandId", "Command ID %s is not valid.", in.CommandId)
		}
		return nil, core.Errorf("InvocationDoesNotExist", "")
	}
	inv, ok := c.invocations[in.InstanceId]
	if !ok || !inv.visible {
		return nil, core.Errorf("InvocationDoesNotExist", "")
	}
	if in.PluginName != "" && in.PluginName != c.doc.step {
		return nil, core.Errorf("InvalidPluginName", "Plugin %s is not a step of %s.", in.PluginName, c.docName)
	}
	out := map[string]any{
		"CommandId": c.id, "InstanceId": inv.instanceID, "Comment": c.comment, "DocumentName": c.docName,
		"DocumentVersion": "1", "PluginName": c.doc.step, "ResponseCode": inv.responseCode,
		"Status": inv.status, "StatusDetails": inv.details,
		"StandardOutputContent": inv.stdout, "StandardErrorContent": inv.stderr,
		"StandardOutputUrl": "", "StandardErrorUrl": "",
		"CloudWatchOutputConfig": map[string]any{"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": false},
	}
	if !inv.started.IsZero() {
		out["ExecutionStartDateTime"] = ssmTime(inv.started)
		end := inv.finished
		if end.IsZero() {
			end = s.clock.Now()
		}
		out["ExecutionElapsedTime"] = elapsed(end.Sub(inv.started))
	}
	if !inv.finished.IsZero() {
		out["ExecutionEndDateTime"] = ssmTime(inv.finished)
	}
	return out, nil
}

// elapsed formats a duration as SSM does ("PT12.345S").
func elapsed(d time.Duration) string {
	return "PT" + strconv.FormatFloat(d.Seconds(), 'f', 3, 64) + "S"
}

type listInput struct {
	CommandId  string `json:"CommandId"`
	InstanceId string `json:"InstanceId"`
	Details    bool   `json:"Details"`
	MaxResults *int   `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}

func pageOf(max *int, token string, upper int) (int, int, error) {
	limit := upper
	if max != nil {
		if *max < 1 || *max > upper {
			return 0, 0, core.Errorf("ValidationException", "MaxResults must be between 1 and %d.", upper)
		}
		limit = *max
	}
	start := 0
	if token != "" {
		n, ok := core.ParseOffsetToken(token)
		if !ok {
			return 0, 0, core.Errorf("InvalidNextToken", "The specified token is not valid.")
		}
		start = n
	}
	return start, limit, nil
}

// list answers ListCommandInvocations and ListCommands: MaxResults (1-50, default 50) and
// NextToken select the page of the entries collect returns under the lock, named key.
func (s *Service) list(in listInput, key string, collect func() ([]map[string]any, error)) (any, error) {
	start, limit, err := pageOf(in.MaxResults, in.NextToken, 50)
	if err != nil {
		return nil, err
	}
	items, end, total, err := core.Page(&s.mu, collect, start, limit)
	if err != nil {
		return nil, err
	}
	out := map[string]any{key: items}
	if end < total {
		out["NextToken"] = core.OffsetToken(end)
	}
	return out, nil
}

func (s *Service) listCommandInvocations(_ context.Context, in listInput) (any, error) {
	return s.list(in, "CommandInvocations", func() ([]map[string]any, error) {
		var all []map[string]any
		for _, id := range s.corder {
			c := s.commands[id]
			if in.CommandId != "" && c.id != in.CommandId {
				continue
			}
			for _, iid := range c.instanceIDs {
				inv := c.invocations[iid]
				if !inv.visible || (in.InstanceId != "" && iid != in.InstanceId) {
					continue
				}
				entry := map[string]any{
					"CommandId": c.id, "InstanceId": iid, "InstanceName": "", "Comment": c.comment,
					"DocumentName": c.docName, "DocumentVersion": "1", "RequestedDateTime": core.EpochTime(c.requested),
					"Status": inv.status, "StatusDetails": inv.details, "TraceOutput": "",
					"StandardOutputUrl": "", "StandardErrorUrl": "", "CommandPlugins": []any{},
				}
				if in.Details {
					plugin := map[string]any{
						"Name": c.doc.step, "Status": inv.status, "StatusDetails": inv.details, "ResponseCode": inv.responseCode,
						"Output": truncate(inv.stdout+inv.stderr, maxPluginOutput),
					}
					if !inv.started.IsZero() {
						plugin["ResponseStartDateTime"] = core.EpochTime(inv.started)
					}
					if !inv.finished.IsZero() {
						plugin["ResponseFinishDateTime"] = core.EpochTime(inv.finished)
					}
					entry["CommandPlugins"] = []any{plugin}
				}
				all = append(all, entry)
			}
		}
		// Newest first, as the service lists them.
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
		return all, nil
	})
}

func (s *Service) listCommands(_ context.Context, in listInput) (any, error) {
	return s.list(in, "Commands", func() ([]map[string]any, error) {
		if in.CommandId != "" {
			if _, ok := s.commands[in.CommandId]; !ok {
				return nil, core.Errorf("InvalidCommandId", "Command ID %s is not valid.", in.CommandId)
			}
		}
		var all []map[string]any
		for i := len(s.corder) - 1; i >= 0; i-- {
			c := s.commands[s.corder[i]]
			if in.CommandId != "" && c.id != in.CommandId {
				continue
			}
			if in.InstanceId != "" {
				if _, ok := c.invocations[in.InstanceId]; !ok {
					continue
				}
			}
			all = append(all, s.wireCommand(c))
		}
		return all, nil
	})
}

type cancelInput struct {
	CommandId   string   `json:"CommandId"`
	InstanceIds []string `json:"InstanceIds"`
}

// cancelCommand stops invocations that have not finished: they end Cancelled, a script that has
// not started never runs, and a running one is killed (what it did before stays done, as on AWS).
func (s *Service) cancelCommand(_ context.Context, in cancelInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.commands[in.CommandId]
	if !ok {
		return nil, core.Errorf("InvalidCommandId", "Command ID %s is not valid.", in.CommandId)
	}
	ids := in.InstanceIds
	if len(ids) == 0 {
		ids = c.instanceIDs
	}
	for _, id := range ids {
		if _, ok := c.invocations[id]; !ok {
			return nil, core.Errorf("InvalidInstanceId", "Instance %s is not a target of command %s.", id, c.id)
		}
	}
	for _, id := range ids {
		inv := c.invocations[id]
		if inv.status == StatusPending || inv.status == StatusInProgress {
			inv.status, inv.details, inv.finished = StatusCancelled, "Cancelled", s.clock.Now()
			if inv.cancel != nil {
				inv.cancel()
			}
		}
	}
	return struct{}{}, nil
}
