package trailalert

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Every execution alert is Critical: a Strongroom workflow that did not succeed may have left a
// CloudFormation stack waiting, a cluster half made or a key store disconnected.
const (
	ExecutionRule       = "workflow-execution-failed"
	executionRuleWhy    = "a workflow execution failed, timed out or was aborted; what it was doing may be half done"
	executionSource     = "states.amazonaws.com"
	maxErrorName        = 256
	maxExecutionIDField = 256
	executionNote       = "\nThe execution's input and output are not shown here: they may hold values that must not be mailed.\nThe console link shows them, and the whole history, to whoever may see them.\n"
)

// executionDoc is everything an execution alert may show, gathered into one document so that one
// redaction covers it all: a value hidden in the input (a password among the resource's
// properties) is hidden wherever else it appears (an error's cause quoting it). Input, Output and
// the causes are embedded as JSON when they are JSON, so their sensitive members are found by
// name. No member's own name is sensitive.
type executionDoc struct {
	ExecutionARN    string          `json:"executionArn"`
	StateMachineARN string          `json:"stateMachineArn"`
	Name            string          `json:"name"`
	Machine         string          `json:"machine"`
	Resources       []string        `json:"resources"`
	Input           json.RawMessage `json:"input"`
	Output          json.RawMessage `json:"output"`
	Error           string          `json:"error"`
	Cause           json.RawMessage `json:"cause"`
	State           string          `json:"state"`
	HistoryError    string          `json:"historyError"`
	HistoryCause    json.RawMessage `json:"historyCause"`
	StepState       string          `json:"stepState"`
	StepError       string          `json:"stepError"`
	StepCause       json.RawMessage `json:"stepCause"`
}

// embed is a text as a document member: the JSON itself when it is an object or an array, else
// the text as a string; null for nil.
func embed(text *string) json.RawMessage {
	if text == nil {
		return json.RawMessage("null")
	}
	if t := strings.TrimSpace(*text); t != "" && (t[0] == '{' || t[0] == '[') && json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(*text) // a string always encodes
	return b
}

func ptrIfSet(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// AlertExecution renders the alert for an execution that ended FAILED, TIMED_OUT or ABORTED (as
// ParseExecution returned it), with what its history says (f; nil when the history was not asked
// for). Everything the message shows is taken from one redaction of the event and the history
// (see executionDoc), then the errors and causes are redacted as text (Redactor.RedactText) and
// every value hidden is hidden wherever else it appears. The input and output are never shown:
// only identifiers from the input (the CloudFormation request's LogicalResourceId, StackId,
// PhysicalResourceId..., a rotation's CustomKeyStoreId) that look like identifiers.
func (a *Alerter) AlertExecution(ev *ExecutionEvent, f *ExecutionFailure) *Message {
	d := &ev.Detail
	doc := executionDoc{
		ExecutionARN: d.ExecutionARN, StateMachineARN: d.StateMachineARN, Name: d.Name, Machine: ev.MachineName(),
		Resources: ev.Envelope.Resources, Input: embed(d.Input), Output: embed(d.Output), Error: deref(d.Error), Cause: embed(d.Cause),
	}
	if f != nil {
		doc.State, doc.HistoryError, doc.HistoryCause = f.State, f.Error, embed(ptrIfSet(f.Cause))
		if s := f.Step; s != nil {
			doc.StepState, doc.StepError, doc.StepCause = s.State, s.Error, embed(ptrIfSet(s.Cause))
		}
	}
	raw, _ := json.Marshal(doc) // strings and valid JSON only: always encodes
	red := a.redactor.redact(raw, false)
	var shown executionDoc
	_ = json.Unmarshal(red.out, &shown) // best effort: a redacted string member stays a string

	// The errors and causes as text, then every value hidden anywhere, everywhere.
	var tr textRedaction
	cause := func(m json.RawMessage) string {
		var s string
		if json.Unmarshal(m, &s) == nil {
			return tr.redact(a.redactor, s)
		}
		if len(m) == 0 || string(m) == "null" {
			return ""
		}
		return tr.document(a.redactor, m)
	}
	v := execView{
		arn: shown.ExecutionARN, machineARN: shown.StateMachineARN, name: shown.Name, machine: shown.Machine,
		errName: tr.text(a.redactor, shown.Error), cause: cause(shown.Cause),
		historyErr: tr.text(a.redactor, shown.HistoryError), historyCause: cause(shown.HistoryCause),
		state: shown.State, stepState: shown.StepState,
		stepErr: tr.text(a.redactor, shown.StepError), stepCause: cause(shown.StepCause),
		resources: inputIdentifiers(shown.Input),
	}
	for _, p := range []*string{&v.arn, &v.machineARN, &v.name, &v.machine, &v.errName, &v.cause, &v.historyErr,
		&v.historyCause, &v.state, &v.stepState, &v.stepErr, &v.stepCause} {
		*p = tr.scrub(*p)
	}
	for i := range v.resources {
		v.resources[i] = tr.scrub(v.resources[i])
	}
	m := &Message{
		Severity: Critical, Rule: ExecutionRule, EventID: firstNonEmpty(ev.Envelope.ID, v.arn),
		Redacted: red.fields + tr.n, RedactedCopies: red.copies,
		Attributes: map[string]string{
			AttrEventSource: executionSource,
			AttrEventName:   ev.EventName(),
			AttrSeverity:    Critical.String(),
			AttrAccount:     attrValue(ev.Account()),
			AttrRegion:      attrValue(ev.Region()),
		},
	}
	v.render(m, ev, f)
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// execView is what the message shows, every value redacted.
type execView struct {
	arn, machineARN, name, machine string
	errName, cause                 string
	historyErr, historyCause       string
	state, stepState               string
	stepErr, stepCause             string
	resources                      []string
}

// label names the workflow: its kind when recognised, else its state machine's name.
func (v *execView) label() string {
	return firstNonEmpty(WorkflowKind(v.machine), v.machine, "unknown state machine")
}

func (v *execView) render(m *Message, ev *ExecutionEvent, f *ExecutionFailure) {
	d := &ev.Detail
	// The history's last event says best how the execution ended; the event's own error and
	// cause stand in when the history was not read.
	errName, cause := v.errName, v.cause
	if f != nil && f.EventType != "" {
		errName, cause = v.historyErr, v.historyCause
	}
	// The state the subject names: the failed step's, when a Catch led from it to the end.
	subjectState := v.state
	if f != nil && f.Step != nil && v.stepState != "" {
		subjectState = v.stepState
	}
	m.Subject = executionSubject(ev.EventName(), v.label(), subjectState, errName, ev.Account())

	var b strings.Builder
	for _, part := range []string{"CRITICAL: Step Functions execution ", d.Status, ": ", line(v.label()), " workflow, in account ",
		line(ev.Account()), " (", line(ev.Region()), ")\n\n"} {
		b.WriteString(part)
	}
	field := func(name, value string) { writeField(&b, 15, name, value) }
	workflow := v.machine
	if kind := WorkflowKind(v.machine); kind != "" {
		workflow = kind + " (state machine " + v.machine + ")"
	}
	field("Workflow:", workflow)
	field("Execution:", v.name)
	start, stop := d.times()
	status := d.Status
	if !stop.IsZero() {
		status += " at " + stop.Format("2006-01-02 15:04:05 UTC")
		if !start.IsZero() && !stop.Before(start) {
			status += ", " + stop.Sub(start).Round(time.Second).String() + " after it started"
		}
	}
	field("Status:", status)
	field("Failed state:", v.failedState(f))
	field("Error:", firstNonEmpty(clip(errName, maxErrorName), "(none given)"))
	field("Cause:", firstNonEmpty(cause, "(none given)"))
	if s := v.step(f, errName, cause); s != "" {
		field("Failed step:", s)
	}
	for i, r := range v.resources {
		name := ""
		if i == 0 {
			name = "Resource:"
		}
		field(name, r)
	}
	if len(v.resources) == 0 {
		field("Resource:", "(the input names none; see the console)")
	}
	field("Region:", ev.Region())
	field("Account:", ev.Account())
	field("Severity:", Critical.String()+" ("+ExecutionRule+": "+executionRuleWhy+")")
	field("Console:", firstNonEmpty(ExecutionConsoleURL(v.arn), "(no link: the execution ARN is not one the console can open)"))
	field("Execution ARN:", v.arn)
	field("Event ID:", ev.Envelope.ID)
	if m.Redacted > 0 || m.RedactedCopies > 0 {
		// Counted over everything the event and history hold, the input and output included.
		note := strconv.Itoa(m.Redacted) + " sensitive value(s) of the event and its history replaced by " + RedactedMarker
		if m.RedactedCopies > 0 {
			note += ", and copies of them in " + strconv.Itoa(m.RedactedCopies) + " other value(s)"
		}
		field("Redacted:", note)
	}
	b.WriteString(executionNote)
	m.Body = b.String()
}

// failedState describes the last state entered, or why it is not known.
func (v *execView) failedState(f *ExecutionFailure) string {
	switch {
	case f == nil:
		return "not read (the relay has no Step Functions client; the console shows the history)"
	case v.state != "" && f.ReadError != "":
		return v.state + " (" + f.StateType + "), from the part of the history read before GetExecutionHistory failed: " + f.ReadError
	case v.state != "" && f.Approximate:
		return v.state + " (" + f.StateType + "), the newest state entered among the last " + strconv.Itoa(f.Events) + " events"
	case v.state != "":
		return v.state + " (" + f.StateType + ")"
	case f.ReadError != "":
		return "could not be read: GetExecutionHistory failed with " + f.ReadError + " (the console shows the history)"
	case f.EventType != "" && !f.Approximate:
		return "(none: the execution ended before entering a state)"
	}
	return "not found in the last " + strconv.Itoa(f.Events) + " events of the history (the console shows it all)"
}

// step describes the failed step when it adds to the lines above: a failure in another state
// than the failed one (a Catch led on from it), or with another error.
func (v *execView) step(f *ExecutionFailure, errName, cause string) string {
	if f == nil || f.Step == nil {
		return ""
	}
	if v.stepState == v.state && v.stepErr == errName && v.stepCause == cause {
		return ""
	}
	s := firstNonEmpty(v.stepState, "(state not found)")
	if f.Step.StateType != "" {
		s += " (" + f.Step.StateType + ")"
	}
	s += ": " + f.Step.EventType
	if v.stepErr != "" {
		s += " " + clip(v.stepErr, maxErrorName)
	}
	if v.stepCause != "" {
		s += ": " + v.stepCause
	}
	return s
}

// executionSubject builds "[CRITICAL] states:ExecutionFailed <workflow> at <state>: <error> in
// <account>" within MaxSubjectChars printable ASCII. The error goes first when it does not fit
// (the event name already says how the execution ended, and the body has the error), then the
// state and the workflow are shortened; the account always stays.
func executionSubject(eventName, label, state, errName, account string) string {
	head := "[CRITICAL] states:" + ascii(eventName) + " "
	tail := " in " + ascii(clip(account, 20))
	label, state, errName = ascii(label), ascii(state), ascii(errName)
	build := func() string {
		s := head + label
		if state != "" {
			s += " at " + state
		}
		if errName != "" {
			s += ": " + errName
		}
		return s + tail
	}
	if len(build()) <= MaxSubjectChars {
		return build()
	}
	errName = ""
	for _, p := range []struct {
		v    *string
		keep int
	}{{&state, 16}, {&label, 16}} {
		if over := len(build()) - MaxSubjectChars; over > 0 && len(*p.v) > p.keep {
			*p.v = (*p.v)[:max(len(*p.v)-over-3, p.keep-3)] + "..."
		}
	}
	s := build()
	if len(s) > MaxSubjectChars {
		s = s[:MaxSubjectChars-len(tail)-3] + "..." + tail
	}
	return s
}

// workflowInput are the identifiers a Strongroom workflow's input carries: the CloudFormation
// custom-resource request (pkg/customresource.WorkflowInput) or a key store rotation's target.
type workflowInput struct {
	Event *struct {
		RequestType        string          `json:"RequestType"`
		ResourceType       string          `json:"ResourceType"`
		LogicalResourceID  string          `json:"LogicalResourceId"`
		PhysicalResourceID string          `json:"PhysicalResourceId"`
		StackID            string          `json:"StackId"`
		RequestID          string          `json:"RequestId"`
		ResourceProperties json.RawMessage `json:"ResourceProperties"`
	} `json:"Event"`
	Rotation *struct {
		CustomKeyStoreID string `json:"CustomKeyStoreId"`
	} `json:"Rotation"`
}

// inputIdentifiers lists "Name=value" for each identifier the (redacted) input carries. A value
// that does not look like an identifier is not shown: an identifier field holding free text is
// no identifier.
func inputIdentifiers(input json.RawMessage) []string {
	var in workflowInput
	if !decodeObject(input, &in) {
		return nil
	}
	var out []string
	add := func(name, value string) {
		switch {
		case value == "":
		case value == RedactedMarker || identifier(value):
			out = append(out, name+"="+value)
		default:
			out = append(out, name+"=(not shown: not a plain identifier)")
		}
	}
	if e := in.Event; e != nil {
		add("RequestType", e.RequestType)
		add("ResourceType", e.ResourceType)
		add("LogicalResourceId", e.LogicalResourceID)
		add("PhysicalResourceId", e.PhysicalResourceID)
		add("StackId", e.StackID)
		add("RequestId", e.RequestID)
		var props struct {
			ClusterID    string `json:"ClusterId"`
			KeyStoreName string `json:"KeyStoreName"`
		}
		if decodeObject(e.ResourceProperties, &props) {
			add("ClusterId", props.ClusterID)
			add("KeyStoreName", props.KeyStoreName)
		}
	}
	if r := in.Rotation; r != nil {
		add("CustomKeyStoreId", r.CustomKeyStoreID)
	}
	return out
}

// identifier: 1 to maxExecutionIDField letters, digits and the punctuation of ARNs and ids.
func identifier(s string) bool {
	if s == "" || len(s) > maxExecutionIDField {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_:/.@+=,", c) >= 0) {
			return false
		}
	}
	return true
}
