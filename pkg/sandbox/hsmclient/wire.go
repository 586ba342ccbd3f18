package hsmclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
)

// EnvEndpoint names the variable that carries the instance endpoint (Handler's URL) to the tools.
const EnvEndpoint = "STRONGROOM_SANDBOX_INSTANCE"

// HSM is what the instance's client reaches of the emulated cluster (*cloudhsm.Service satisfies it).
type HSM interface {
	ClusterAt(hsmIP string) (string, error)
	ConnectClient(clusterID, hsmIP, caCertPEM string) error
	Users(clusterID string) ([]cloudhsm.User, error)
	Login(clusterID string, cr cloudhsm.Credentials) error
	Activate(clusterID, caCertPEM, adminPassword string) error
	CreateUser(clusterID string, login cloudhsm.Credentials, name, role, password string) error
	DeleteUser(clusterID string, login cloudhsm.Credentials, name, role string) error
	ChangePassword(clusterID string, login cloudhsm.Credentials, name, role, newPassword string) error
}

var _ HSM = (*cloudhsm.Service)(nil)

// Network is the VPC between the instance and the HSMs (*ec2.Service satisfies it): Connect opens a
// TCP connection from the instance's network interface as its security groups and the HSM's judge
// it, and fails when they refuse it.
type Network interface {
	Connect(instanceID, dstIP string, port int) error
}

// hsmPort is the port cloudhsm-cli reaches an HSM on (the client's configuration, configure.go).
const hsmPort = 2223

// Process is one start of a tool: what `ps` and /proc/<pid>/environ would show of it.
type Process struct {
	Tool string   `json:"tool"`
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
}

// request is one cloudhsm-cli operation sent to the instance endpoint.
type request struct {
	Op       string       `json:"op"` // "login", "user list", "user create", ...
	HsmIP    string       `json:"hsmIp"`
	CA       string       `json:"ca"`
	Login    *credentials `json:"login,omitempty"`
	Username string       `json:"username,omitempty"`
	Role     string       `json:"role,omitempty"`
	Password string       `json:"password,omitempty"`
}

type credentials struct {
	Role     string `json:"role"`
	User     string `json:"user"`
	Password string `json:"password"`
}

// Result is what cloudhsm-cli prints for a command.
type Result struct {
	ErrorCode int `json:"error_code"`
	Data      any `json:"data"`
}

// userEntry is one user of `user list`, its fields in the CLI's order.
type userEntry struct {
	Username string `json:"username"`
	Role     string `json:"role"`
	Locked   string `json:"locked"`
	MFA      []any  `json:"mfa"`
	Quorum   []any  `json:"quorum"`
	Coverage string `json:"cluster-coverage"`
}

func failure(msg string) Result { return Result{ErrorCode: 1, Data: msg} }

// InstanceEndpoint is the endpoint the tools of instanceID reach, under the URL Handler is served at.
func InstanceEndpoint(base, instanceID string) string {
	return strings.TrimRight(base, "/") + "/instances/" + instanceID
}

// Handler serves the instances' endpoints (InstanceEndpoint): POST .../process records a tool's
// start with onProcess, POST .../hsm runs one cloudhsm-cli operation against h from that instance,
// across network when it is not nil (a connection its security groups refuse fails as the client
// does when no HSM answers). Request bodies carry passwords (as the real client's session with the
// HSM does), so nothing here logs or records them.
func Handler(h HSM, network Network, onProcess func(Process)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /instances/{instance}/process", func(w http.ResponseWriter, r *http.Request) {
		var p Process
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, "decode process: "+err.Error(), http.StatusBadRequest)
			return
		}
		onProcess(p)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /instances/{instance}/hsm", func(w http.ResponseWriter, r *http.Request) {
		var req request
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "decode operation: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if network != nil {
			if err := network.Connect(r.PathValue("instance"), req.HsmIP, hsmPort); err != nil {
				// The packets are dropped: the client waits, then reports that no HSM answered.
				_ = json.NewEncoder(w).Encode(failure(connectMessage(err, req.HsmIP)))
				return
			}
		}
		_ = json.NewEncoder(w).Encode(run(h, req))
	})
	return mux
}

// run performs one operation as the client library does: connect to the HSM at the configured
// address, checking its certificate against the installed customer CA, then act.
func run(h HSM, req request) Result {
	cluster, err := h.ClusterAt(req.HsmIP)
	if err == nil {
		err = h.ConnectClient(cluster, req.HsmIP, req.CA)
	}
	if err != nil {
		return failure(connectMessage(err, req.HsmIP))
	}
	var login cloudhsm.Credentials
	if req.Login != nil {
		login = cloudhsm.Credentials{Role: req.Login.Role, User: req.Login.User, Password: req.Login.Password}
	}
	switch req.Op {
	case "login":
		if err := h.Login(cluster, login); err != nil {
			return failure(message(err))
		}
		return Result{Data: who{Username: strings.ToLower(login.User), Role: login.Role}}
	case "user list":
		users, err := h.Users(cluster)
		if err != nil {
			return failure(message(err))
		}
		list := make([]userEntry, 0, len(users))
		for _, u := range users {
			list = append(list, userEntry{Username: u.Name, Role: u.Role, Locked: fmt.Sprint(u.LockedOut), MFA: []any{}, Quorum: []any{}, Coverage: "full"})
		}
		return Result{Data: map[string]any{"users": list}}
	case "cluster activate":
		if err := h.Activate(cluster, req.CA, req.Password); err != nil {
			return failure(message(err))
		}
		return Result{Data: "Cluster activation successful"}
	case "user create":
		err = h.CreateUser(cluster, login, req.Username, req.Role, req.Password)
	case "user delete":
		err = h.DeleteUser(cluster, login, req.Username, req.Role)
	case "user change-password":
		err = h.ChangePassword(cluster, login, req.Username, req.Role, req.Password)
	default:
		return failure("unsupported operation " + req.Op)
	}
	if err != nil {
		return failure(message(err))
	}
	return Result{Data: who{Username: strings.ToLower(req.Username), Role: req.Role}}
}

// who is the data of a command on one user: login, user create, delete and change-password.
type who struct {
	Username string `json:"username"`
	Role     string `json:"role"`
}

// connectMessage words a failed connection as the client does.
func connectMessage(err error, ip string) string {
	if errors.Is(err, cloudhsm.ErrCAMismatch) {
		return "Failed to connect to the cluster: the HSM's certificate at " + ip + " does not verify against the installed customer CA certificate"
	}
	return "Failed to connect to the cluster: no HSM answered at " + ip
}

// message words a cluster error as cloudhsm-cli would; no error carries a secret.
func message(err error) string {
	switch {
	case errors.Is(err, cloudhsm.ErrInvalidCredentials):
		return "Login failed: invalid username or password"
	case errors.Is(err, cloudhsm.ErrUserLockedOut):
		return "Login failed: the user is locked out"
	case errors.Is(err, cloudhsm.ErrNoActiveHsm), errors.Is(err, cloudhsm.ErrClusterNotFound):
		return "Failed to connect to the cluster: no HSM answered"
	}
	msg := err.Error()
	return strings.ToUpper(msg[:1]) + msg[1:]
}

// client is a tool's connection to the instance endpoint.
type client struct {
	endpoint string
	http     *http.Client
}

func newClient(endpoint string) *client {
	return &client{endpoint: strings.TrimRight(endpoint, "/"), http: &http.Client{Timeout: 2 * time.Minute}}
}

func (c *client) post(path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := c.http.Post(c.endpoint+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("reach the HSM network: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HSM network answered %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

func (c *client) record(p Process) error { return c.post("/process", p, nil) }

// do sends req and returns the cluster's answer with its data as sent, so the CLI prints the
// members in the order the answer has them.
func (c *client) do(req request) Result {
	var res struct {
		ErrorCode int             `json:"error_code"`
		Data      json.RawMessage `json:"data"`
	}
	if err := c.post("/hsm", req, &res); err != nil {
		return failure(err.Error())
	}
	return Result{ErrorCode: res.ErrorCode, Data: res.Data}
}
