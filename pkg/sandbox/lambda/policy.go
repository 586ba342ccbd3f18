package lambda

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// A function's resource-based policy, as AddPermission builds it (the Lambda developer guide,
// "Working with resource-based IAM policies in Lambda"): one Allow statement per StatementId, its
// Principal a service ({"Service": ...}), an account ({"AWS": "arn:aws:iam::<id>:root"}) or an ARN,
// its conditions AWS:SourceArn (ArnLike) and AWS:SourceAccount (StringEquals) when given.

type permissionInput struct {
	StatementId, Action, Principal, SourceArn, SourceAccount string
}

var (
	statementIDRe = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,100}$`)
	accountIDRe   = regexp.MustCompile(`^\d{12}$`)
)

func (s *Service) addPermission(f *function, body []byte) (*core.RESTResponse, error) {
	var in permissionInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, core.Errorf("InvalidRequestContentException", "Could not parse request body into json: %v", err)
	}
	switch {
	case !statementIDRe.MatchString(in.StatementId):
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)", in.StatementId)
	case !strings.HasPrefix(in.Action, "lambda:"):
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])", in.Action)
	case in.Principal == "":
		return nil, core.Errorf("ValidationException", "1 validation error detected: Value null at 'principal' failed to satisfy constraint: Member must not be null")
	}
	st := map[string]any{"Sid": in.StatementId, "Effect": "Allow", "Action": in.Action, "Resource": f.arn}
	switch {
	case strings.HasSuffix(in.Principal, ".amazonaws.com"):
		st["Principal"] = map[string]any{"Service": in.Principal}
	case accountIDRe.MatchString(in.Principal):
		st["Principal"] = map[string]any{"AWS": "arn:aws:iam::" + in.Principal + ":root"}
	case in.Principal == "*":
		st["Principal"] = "*"
	default:
		st["Principal"] = map[string]any{"AWS": in.Principal}
	}
	cond := map[string]any{}
	if in.SourceArn != "" {
		cond["ArnLike"] = map[string]any{"AWS:SourceArn": in.SourceArn}
	}
	if in.SourceAccount != "" {
		cond["StringEquals"] = map[string]any{"AWS:SourceAccount": in.SourceAccount}
	}
	if len(cond) > 0 {
		st["Condition"] = cond
	}
	s.mu.Lock()
	for _, old := range f.policy {
		if old["Sid"] == in.StatementId {
			s.mu.Unlock()
			return nil, core.StatusErrorf(http.StatusConflict, "ResourceConflictException", "The statement id (%s) provided already exists. Please provide a new statement id, or remove the existing statement.", in.StatementId)
		}
	}
	f.policy = append(f.policy, st)
	s.mu.Unlock()
	b, _ := json.Marshal(st)
	resp, err := jsonResponse(map[string]string{"Statement": string(b)})
	if resp != nil {
		resp.Status = http.StatusCreated
	}
	return resp, err
}

// policyDocument is f's resource-based policy, "" when it has no statement. Caller holds s.mu.
func policyDocument(f *function) string {
	if len(f.policy) == 0 {
		return ""
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": f.policy})
	return string(b)
}

func (s *Service) getPolicy(f *function) (*core.RESTResponse, error) {
	s.mu.Lock()
	doc := policyDocument(f)
	s.mu.Unlock()
	if doc == "" {
		return nil, core.StatusErrorf(http.StatusNotFound, "ResourceNotFoundException", "The resource you requested does not exist.")
	}
	return jsonResponse(map[string]string{"Policy": doc, "RevisionId": core.NewUUID()})
}

func (s *Service) removePermission(f *function, sid string) (*core.RESTResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, st := range f.policy {
		if st["Sid"] == sid {
			f.policy = append(f.policy[:i], f.policy[i+1:]...)
			return &core.RESTResponse{Status: http.StatusNoContent}, nil
		}
	}
	return nil, core.StatusErrorf(http.StatusNotFound, "ResourceNotFoundException", "Statement %s is not found in resource policy.", sid)
}

// Policy returns the resource-based policy of the function a name or ARN names, "" for none.
func (s *Service) Policy(function string) string {
	f, err := s.resolve(function)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return policyDocument(f)
}
