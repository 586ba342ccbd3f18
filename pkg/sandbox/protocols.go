package sandbox

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// serveJSON answers an AWS JSON 1.0/1.1 request: X-Amz-Target: <Prefix>.<Operation>.
func (s *Server) serveJSON(c *call) {
	c.protocol = "json"
	target := c.r.Header.Get("X-Amz-Target")
	// The target is <prefix>.<operation>; a prefix may itself be qualified by its Smithy namespace
	// (the AWS CLI's com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101), which the service's
	// short prefix ends.
	prefix, op := target, ""
	if i := strings.LastIndex(target, "."); i >= 0 {
		prefix, op = target[:i], target[i+1:]
	}
	c.operation = op
	s.mu.RLock()
	svc, ok := s.json[prefix]
	if !ok {
		svc, ok = s.json[prefix[strings.LastIndex(prefix, ".")+1:]]
	}
	s.mu.RUnlock()
	version := "1.1"
	if ok {
		c.service = svc.ServiceID()
		version = svc.JSONVersion()
		c.queryCompatible, _ = svc.(core.QueryCompatible)
	} else {
		c.service = "unknown"
	}
	if _, err := signingService(c.r); err != nil {
		c.writeJSONError(version, err)
		return
	}
	if !ok || c.r.Method != http.MethodPost {
		c.writeJSONError(version, core.Errorf("UnknownOperationException", "Unknown operation %s", target))
		return
	}
	handler, ok := svc.Operations()[op]
	if !ok {
		c.writeJSONError(version, core.Errorf("UnknownOperationException", "Unknown operation %s", target))
		return
	}
	c.writeError = func(e *core.Error) { c.writeJSONError(version, e) }
	if ferr := c.applyFaults(svc); ferr != nil {
		c.writeJSONError(version, ferr)
		return
	}
	if derr := c.authorize(func() authz.Request { return jsonRequest(c.body) }); derr != nil {
		c.writeJSONError(version, derr)
		return
	}
	out, err := handler(c.r.Context(), json.RawMessage(c.body))
	if err != nil {
		c.writeJSONError(version, asCoreError(err))
		return
	}
	body := []byte("{}")
	if out != nil {
		if body, err = json.Marshal(out); err != nil {
			c.writeJSONError(version, asCoreError(fmt.Errorf("encode %s output: %w", op, err)))
			return
		}
	}
	c.writeRaw(http.StatusOK, "application/x-amz-json-"+version, body, "")
}

// writeJSONError writes an AWS JSON protocol error. The body carries the message under both
// "message" and "Message": services differ in the member name their models declare (KMS uses
// message, Secrets Manager and CloudHSM Message), and clients differ in which one they read
// (aws-sdk-go-v2 matches either; other SDKs and tools may look for the model's exact name).
func (c *call) writeJSONError(version string, e *core.Error) {
	c.w.Header().Set("X-Amzn-ErrorType", e.Code)
	if c.queryCompatible != nil {
		c.w.Header().Set("X-Amzn-Query-Error", c.queryCompatible.QueryErrorCode(e.Code)+";"+faultKind(e))
	}
	fields := map[string]any{}
	for k, v := range e.Fields {
		fields[k] = v
	}
	fields["__type"] = e.Code
	fields["message"] = e.Message
	fields["Message"] = e.Message
	body, _ := json.Marshal(fields)
	c.writeRaw(e.Status, "application/x-amz-json-"+version, body, e.Code)
}

// serveQuery answers a form-encoded Query request, routed by the SigV4 credential scope's service
// and, when no registered service signs with that name, by a unique Action match.
func (s *Server) serveQuery(c *call) {
	c.protocol = "query"
	params, perr := url.ParseQuery(string(c.body))
	action := params.Get("Action")
	c.operation = action
	signing, aerr := signingService(c.r)
	s.mu.RLock()
	var svc core.QueryService
	for _, q := range s.query {
		if aerr == nil && q.SigningName() == signing {
			svc = q
			break
		}
	}
	if svc == nil {
		var found []core.QueryService
		for _, q := range s.query {
			if _, ok := q.QueryOperations()[action]; ok {
				found = append(found, q)
			}
		}
		if len(found) == 1 {
			svc = found[0]
		}
	}
	s.mu.RUnlock()
	flavor := core.QueryAWS
	ns := ""
	if svc != nil {
		c.service, flavor, ns = svc.ServiceID(), svc.Flavor(), svc.XMLNamespace()
		c.queryCompatible, _ = svc.(core.QueryCompatible)
	} else {
		c.service = "unknown"
	}
	switch {
	case aerr != nil:
		aerr.Code = strings.TrimSuffix(aerr.Code, "Exception")
		c.writeQueryError(flavor, ns, aerr)
		return
	case perr != nil:
		c.writeQueryError(flavor, ns, core.Errorf("MalformedQueryString", "The query string could not be parsed: %v", perr))
		return
	case action == "":
		c.writeQueryError(flavor, ns, core.Errorf("MissingAction", "The request must contain the parameter Action."))
		return
	case svc == nil:
		c.writeQueryError(flavor, ns, core.Errorf("InvalidAction", "The action %s is not valid for this web service.", action))
		return
	}
	handler, ok := svc.QueryOperations()[action]
	if !ok {
		c.writeQueryError(flavor, ns, core.Errorf("InvalidAction", "The action %s is not valid for this web service.", action))
		return
	}
	c.writeError = func(e *core.Error) { c.writeQueryError(flavor, ns, e) }
	if ferr := c.applyFaults(svc); ferr != nil {
		c.writeQueryError(flavor, ns, ferr)
		return
	}
	if derr := c.authorize(func() authz.Request { return queryRequest(params) }); derr != nil {
		c.writeQueryError(flavor, ns, derr)
		return
	}
	out, err := handler(c.r.Context(), params)
	if err != nil {
		c.writeQueryError(flavor, ns, asCoreError(err))
		return
	}
	inner, err := innerXML(out)
	if err != nil {
		c.writeQueryError(flavor, ns, asCoreError(fmt.Errorf("encode %s output: %w", action, err)))
		return
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	fmt.Fprintf(&b, `<%sResponse xmlns="%s">`, action, escapeXML(ns))
	if flavor == core.QueryEC2 {
		fmt.Fprintf(&b, "<requestId>%s</requestId>%s", c.id, inner)
	} else {
		if out != nil {
			fmt.Fprintf(&b, "<%sResult>%s</%sResult>", action, inner, action)
		}
		fmt.Fprintf(&b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>", c.id)
	}
	fmt.Fprintf(&b, "</%sResponse>", action)
	c.writeRaw(http.StatusOK, "text/xml", b.Bytes(), "")
}

// innerXML marshals v and returns its content without the outer element.
func innerXML(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	var b bytes.Buffer
	enc := xml.NewEncoder(&b)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: "x"}}); err != nil {
		return "", err
	}
	if err := enc.Flush(); err != nil {
		return "", err
	}
	s := b.String()
	if s == "<x></x>" {
		return "", nil
	}
	s = strings.TrimPrefix(s, "<x>")
	return strings.TrimSuffix(s, "</x>"), nil
}

func escapeXML(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// writeQueryError writes a Query error in the service's dialect.
func (c *call) writeQueryError(flavor core.QueryFlavor, ns string, e *core.Error) {
	if c.queryCompatible != nil {
		e = &core.Error{Code: c.queryCompatible.QueryErrorCode(e.Code), Message: e.Message, Status: e.Status, Fields: e.Fields}
	}
	var extra bytes.Buffer
	for k, v := range e.Fields {
		fmt.Fprintf(&extra, "<%s>%s</%s>", k, escapeXML(fmt.Sprint(v)), k)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if flavor == core.QueryEC2 {
		fmt.Fprintf(&b, "<Response><Errors><Error><Code>%s</Code><Message>%s</Message>%s</Error></Errors><RequestID>%s</RequestID></Response>",
			escapeXML(e.Code), escapeXML(e.Message), extra.String(), c.id)
	} else {
		kind := faultKind(e)
		xmlns := ""
		if ns != "" {
			xmlns = ` xmlns="` + escapeXML(ns) + `"`
		}
		fmt.Fprintf(&b, "<ErrorResponse%s><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message>%s</Error><RequestId>%s</RequestId></ErrorResponse>",
			xmlns, kind, escapeXML(e.Code), escapeXML(e.Message), extra.String(), c.id)
	}
	c.writeRaw(e.Status, "text/xml", b.Bytes(), e.Code)
}

// faultKind is the Query protocol's name for who is at fault: Receiver for a 5xx, else Sender.
func faultKind(e *core.Error) string {
	if e.Fault() {
		return "Receiver"
	}
	return "Sender"
}

// serveREST answers a REST request for svc's operation op.
func (s *Server) serveREST(c *call, svc core.RESTService, op string) {
	c.protocol, c.service, c.operation = "rest", svc.ServiceID(), op
	c.restSvc = svc
	if _, err := signingService(c.r); err != nil {
		c.writeRESTError(err)
		return
	}
	c.writeError = c.writeRESTError
	if ferr := c.applyFaults(svc); ferr != nil {
		c.writeRESTError(ferr)
		return
	}
	if derr := c.authorize(func() authz.Request { return restRequest(svc, op, c.r, c.body) }); derr != nil {
		c.writeRESTError(derr)
		return
	}
	resp, err := svc.ServeREST(c.r.Context(), op, c.r, c.body)
	if err != nil {
		c.writeRESTError(asCoreError(err))
		return
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			c.w.Header().Add(k, v)
		}
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	c.writeRaw(status, "", resp.Body, "")
}

// writeRESTError writes a REST-JSON error as Lambda does: X-Amzn-ErrorType header and a body
// {"Type": "User"|"Service", "message": ...}.
func (c *call) writeRESTError(e *core.Error) {
	if eb, ok := c.restSvc.(core.RESTErrorBody); ok {
		contentType, body := eb.RESTError(e, c.id, c.r)
		c.writeRaw(e.Status, contentType, body, e.Code)
		return
	}
	c.w.Header().Set("X-Amzn-ErrorType", e.Code)
	kind := "User"
	if e.Fault() {
		kind = "Service"
	}
	fields := map[string]any{}
	for k, v := range e.Fields {
		fields[k] = v
	}
	fields["Type"] = kind
	fields["message"] = e.Message
	body, _ := json.Marshal(fields)
	c.writeRaw(e.Status, "application/json", body, e.Code)
}
