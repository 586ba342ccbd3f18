package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// adminPrefix is where the sandbox's own control API lives. It is not an AWS API: it needs no
// signature and answers plain JSON.
//
//	GET    /_sandbox/health             {"status":"ok","services":[...],"region":...,"account":...}
//	GET    /_sandbox/faults             the rules, with hit counts
//	POST   /_sandbox/faults             add a rule (a Fault as JSON); answers {"id": N}
//	DELETE /_sandbox/faults[?id=N]      remove one rule, or all
//	GET    /_sandbox/records[?service=&operation=]   recorded calls, bodies as text
//	DELETE /_sandbox/records            forget them (a long-running sandbox grows otherwise)
//	GET    /_sandbox/clock              {"now": ..., "scale": N}
//	POST   /_sandbox/clock              {"scale": N} changes the speed
const adminPrefix = "/_sandbox/"

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, adminPrefix)
	switch {
	case path == "health" && r.Method == http.MethodGet:
		writeAdmin(w, http.StatusOK, map[string]any{"status": "ok", "services": s.ServiceIDs(), "region": s.Region, "account": s.Account})
	case path == "faults":
		s.adminFaults(w, r)
	case path == "records" && r.Method == http.MethodGet:
		q := r.URL.Query()
		recs := s.Recorder.Records(q.Get("service"), q.Get("operation"))
		if recs == nil {
			recs = []Record{}
		}
		writeAdmin(w, http.StatusOK, recs)
	case path == "records" && r.Method == http.MethodDelete:
		s.Recorder.Reset()
		writeAdmin(w, http.StatusOK, map[string]string{"status": "removed"})
	case path == "clock" && r.Method == http.MethodGet:
		writeAdmin(w, http.StatusOK, map[string]any{"now": s.Clock.Now().Format(time.RFC3339Nano), "scale": s.Clock.Scale()})
	case path == "clock" && r.Method == http.MethodPost:
		var in struct {
			Scale float64 `json:"scale"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Scale <= 0 {
			writeAdmin(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"scale\": N} with N > 0"})
			return
		}
		s.Clock.SetScale(in.Scale)
		writeAdmin(w, http.StatusOK, map[string]any{"now": s.Clock.Now().Format(time.RFC3339Nano), "scale": s.Clock.Scale()})
	default:
		writeAdmin(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path)})
	}
}

func (s *Server) adminFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeAdmin(w, http.StatusOK, s.Faults.List())
	case http.MethodPost:
		var f Fault
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			writeAdmin(w, http.StatusBadRequest, map[string]string{"error": "decode fault: " + err.Error()})
			return
		}
		id, err := s.Faults.Add(f)
		if err != nil {
			writeAdmin(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeAdmin(w, http.StatusOK, map[string]int{"id": id})
	case http.MethodDelete:
		if v := r.URL.Query().Get("id"); v != "" {
			id, err := strconv.Atoi(v)
			if err != nil || !s.Faults.Remove(id) {
				writeAdmin(w, http.StatusNotFound, map[string]string{"error": "no fault rule with id " + v})
				return
			}
		} else {
			s.Faults.Clear()
		}
		writeAdmin(w, http.StatusOK, map[string]string{"status": "removed"})
	default:
		writeAdmin(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET, POST or DELETE"})
	}
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
