package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/logs"
)

// showLogGroups prints, once for each stack deployed so far, one line per log group of the stack
// that has received events: its name, streams and events. Functions write there with their
// execution roles (logs:CreateLogStream, logs:PutLogEvents, judged) and state machines through
// their logging configurations. A function's lines that could not be delivered (a log group
// missing) are an error naming why; a refused delivery is a denied Decision, which fails the demo.
func (d *demo) showLogGroups() error {
	if d.logsShown == nil {
		d.logsShown = map[string]bool{}
	}
	for _, dl := range d.sb.Lambda.LogDeliveries()[d.deliveriesChecked:] {
		if dl.Err != "" && !strings.Contains(dl.Err, "is not authorized to perform") {
			return fmt.Errorf("the lines of function %s were not delivered to %s: %s", dl.Function, dl.Group, dl.Err)
		}
		d.deliveriesChecked++
	}
	summaries := d.sb.Logs.Summaries()
	for _, st := range d.stacks {
		if d.logsShown[st.Name] {
			continue
		}
		d.logsShown[st.Name] = true
		var ids []string
		for id, r := range st.Template.Resources {
			if r.Type == "AWS::Logs::LogGroup" {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			name := st.Physical(id)
			i := slices.IndexFunc(summaries, func(s logs.Summary) bool { return s.Group == name })
			if i < 0 {
				continue
			}
			s := summaries[i]
			d.p.line("%s: log group %s: %s, %s, the first: %s", st.Name, name, plural(s.Streams, "stream"), plural(s.Events, "event"), firstEvent(d.sb.Logs.Messages(name)))
		}
	}
	return nil
}

// firstEvent is a short form of a log group's first event that is not one of Lambda's platform
// lines (platform.start, platform.report: every invocation writes them): a JSON event's msg (a
// function's slog line) or type (a state machine's history event), else its first 60 characters,
// quoted.
func firstEvent(messages []string) string {
	var e struct{ Msg, Type string }
	messages = slices.DeleteFunc(slices.Clone(messages), func(m string) bool {
		e.Type = ""
		return json.Unmarshal([]byte(m), &e) == nil && strings.HasPrefix(e.Type, "platform.")
	})
	if len(messages) == 0 {
		return "none but Lambda's platform lines"
	}
	e.Msg, e.Type = "", ""
	if json.Unmarshal([]byte(messages[0]), &e) == nil && e.Msg+e.Type != "" {
		return strconv.Quote(e.Msg + e.Type)
	}
	m := messages[0]
	if len(m) > 60 {
		m = m[:60] + "..."
	}
	return strconv.Quote(m)
}
