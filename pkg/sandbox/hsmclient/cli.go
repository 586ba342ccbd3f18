package hsmclient

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// flagDef is one option of a command. A flag with an empty value name takes no value.
type flagDef struct {
	name     string   // "--username"
	value    string   // "<USERNAME>", or "" for a switch
	required bool     // the parser refuses the command without it
	values   []string // the possible values, when the parser restricts them
}

// commandDef is one cloudhsm-cli command as the CLI's parser knows it.
type commandDef struct {
	path  string // "user create"
	about string
	flags []flagDef
	// login: the command acts as the logged-in user (an admin for user management).
	login bool
	// newPassword: a --password left out is prompted for twice (Enter, Confirm), as for a password
	// being set; otherwise once.
	newPassword bool
}

var (
	clusterID = flagDef{name: "--cluster-id", value: "<CLUSTER_ID>"}
	username  = flagDef{name: "--username", value: "<USERNAME>", required: true}
	role      = flagDef{name: "--role", value: "<ROLE>", required: true, values: []string{"crypto-user", "admin"}}
	password  = flagDef{name: "--password", value: "<PASSWORD>"}
	approval  = flagDef{name: "--approval", value: "<APPROVAL>"}
)

var commands = []commandDef{
	{path: "login", about: "Login to your cluster", flags: []flagDef{clusterID, username, role, password}},
	{path: "logout", about: "Logout of your cluster", flags: []flagDef{clusterID}},
	{path: "user list", about: "List the users in your cluster", flags: []flagDef{clusterID, {name: "--verbose"}}},
	{path: "user create", about: "Create a new user", login: true, newPassword: true, flags: []flagDef{clusterID, username, role, password, approval}},
	{path: "user delete", about: "Delete a user", login: true, flags: []flagDef{clusterID, username, role, approval}},
	{path: "user change-password", about: "Change a user's password", login: true, newPassword: true,
		flags: []flagDef{clusterID, username, role, password, approval, {name: "--deactivate-mfa"}}},
	{path: "cluster activate", about: "Activate a cluster", newPassword: true, flags: []flagDef{clusterID, password}},
}

// groups are the commands that only hold subcommands.
var groups = map[string][]string{"user": {"list", "create", "delete", "change-password"}, "cluster": {"activate"}}

// usageError is a refusal by the argument parser: printed to stderr, exit code 2.
type usageError struct{ msg, usage string }

func (e *usageError) Error() string {
	if e.usage == "" {
		return "error: " + e.msg + "\n\nFor more information, try '--help'.\n"
	}
	return "error: " + e.msg + "\n\nUsage: " + e.usage + "\n\nFor more information, try '--help'.\n"
}

func (c commandDef) usage() string {
	u := "cloudhsm-cli " + c.path + " [OPTIONS]"
	for _, f := range c.flags {
		if f.required {
			u += " " + f.name + " " + f.value
		}
	}
	return u
}

// parsed is a command line the parser accepted.
type parsed struct {
	cmd   commandDef
	opts  map[string]string
	help  bool
	quit  bool
	about bool // a bare "help"
}

// parse reads one command line (without the program name) as the CLI's parser does.
func parse(tokens []string, interactive bool) (parsed, error) {
	if len(tokens) == 0 {
		return parsed{}, &usageError{msg: "a subcommand is required"}
	}
	head := tokens[0]
	switch {
	case interactive && (head == "quit" || head == "exit"):
		return parsed{quit: true}, nil
	case head == "help" && len(tokens) == 1:
		return parsed{about: true}, nil
	case head == "help":
		tokens, head = append(tokens[1:], "--help"), tokens[1]
	}
	path, rest := head, tokens[1:]
	if subs, ok := groups[head]; ok {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") && rest[0] != "-h" && rest[0] != "--help" {
			return parsed{}, &usageError{msg: fmt.Sprintf("'cloudhsm-cli %s' requires a subcommand but one was not provided\n  [subcommands: %s]", head, strings.Join(subs, ", "))}
		}
		if rest[0] == "-h" || rest[0] == "--help" {
			return parsed{about: true}, nil
		}
		if !slices.Contains(subs, rest[0]) {
			return parsed{}, &usageError{msg: fmt.Sprintf("unrecognized subcommand '%s'", rest[0]), usage: "cloudhsm-cli " + head + " <COMMAND>"}
		}
		path, rest = head+" "+rest[0], rest[1:]
	}
	i := slices.IndexFunc(commands, func(c commandDef) bool { return c.path == path })
	if i < 0 {
		return parsed{}, &usageError{msg: fmt.Sprintf("unrecognized subcommand '%s'", head), usage: "cloudhsm-cli [OPTIONS] <COMMAND>"}
	}
	cmd := commands[i]
	p := parsed{cmd: cmd, opts: map[string]string{}}
	for j := 0; j < len(rest); j++ {
		arg := rest[j]
		if arg == "-h" || arg == "--help" {
			p.help = true
			continue
		}
		name, value, inline := strings.Cut(arg, "=")
		k := slices.IndexFunc(cmd.flags, func(f flagDef) bool { return f.name == name })
		if k < 0 || !strings.HasPrefix(arg, "--") {
			return parsed{}, &usageError{msg: fmt.Sprintf("unexpected argument '%s' found", arg), usage: cmd.usage()}
		}
		f := cmd.flags[k]
		if _, dup := p.opts[f.name]; dup {
			return parsed{}, &usageError{msg: fmt.Sprintf("the argument '%s %s' cannot be used multiple times", f.name, f.value), usage: cmd.usage()}
		}
		switch {
		case f.value == "" && inline:
			return parsed{}, &usageError{msg: fmt.Sprintf("unexpected value '%s' for '%s' found; no more were expected", value, f.name), usage: cmd.usage()}
		case f.value == "":
			value = "true"
		case !inline:
			if j+1 >= len(rest) || strings.HasPrefix(rest[j+1], "--") {
				return parsed{}, &usageError{msg: fmt.Sprintf("a value is required for '%s %s' but none was supplied", f.name, f.value), usage: cmd.usage()}
			}
			j++
			value = rest[j]
		}
		if len(f.values) > 0 && !slices.Contains(f.values, value) {
			return parsed{}, &usageError{msg: fmt.Sprintf("invalid value '%s' for '%s %s'\n  [possible values: %s]", value, f.name, f.value, strings.Join(f.values, ", ")), usage: cmd.usage()}
		}
		p.opts[f.name] = value
	}
	if p.help {
		return p, nil
	}
	var missing []string
	for _, f := range cmd.flags {
		if _, ok := p.opts[f.name]; f.required && !ok {
			missing = append(missing, "  "+f.name+" "+f.value)
		}
	}
	if len(missing) > 0 {
		return parsed{}, &usageError{msg: "the following required arguments were not provided:\n" + strings.Join(missing, "\n"), usage: cmd.usage()}
	}
	return p, nil
}

// session is one run of cloudhsm-cli: its input (commands in interactive mode, and passwords at
// prompts), its outputs, and the interactive login.
type session struct {
	env         []string
	etc         string
	in          *bufio.Reader
	out, errw   io.Writer
	c           *client
	interactive bool
	login       *credentials
}

func cloudhsmCLI(args []string, env []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &session{env: env, etc: etcDir(args[0], env), in: bufio.NewReader(stdin), out: stdout, errw: stderr, c: newClient(lookup(env, EnvEndpoint))}
	rest := args[1:]
	if len(rest) > 0 && (rest[0] == "-V" || rest[0] == "--version") {
		fmt.Fprintln(stdout, "cloudhsm-cli 5.16.0 (Strongroom sandbox stand-in)")
		return 0
	}
	if len(rest) > 0 && (rest[0] == "-h" || rest[0] == "--help") {
		s.about()
		return 0
	}
	if len(rest) > 0 && rest[0] == "interactive" {
		// interactive takes only --cluster-id <CLUSTER_ID>, which selects one of several configured
		// clusters; the stand-in's configuration has one.
		for i := 1; i < len(rest); i++ {
			switch a := rest[i]; {
			case a == "--cluster-id" && i+1 < len(rest):
				i++
			case strings.HasPrefix(a, "--cluster-id="):
			default:
				fmt.Fprint(stderr, (&usageError{msg: fmt.Sprintf("unexpected argument '%s' found", a), usage: "cloudhsm-cli interactive [OPTIONS]"}).Error())
				return 2
			}
		}
		s.interactive = true
		return s.loop()
	}
	p, err := parse(rest, false)
	if err != nil {
		fmt.Fprint(stderr, err.Error())
		return 2
	}
	if p.about {
		s.about()
		return 0
	}
	if p.help {
		s.help(p.cmd)
		return 0
	}
	// Single-command mode logs in with the credentials in the environment, when they are set.
	if r, pin := lookup(env, "CLOUDHSM_ROLE"), lookup(env, "CLOUDHSM_PIN"); r != "" || pin != "" {
		user, pw, ok := strings.Cut(pin, ":")
		if r == "" || !ok {
			s.print(failure("CLOUDHSM_ROLE and CLOUDHSM_PIN must both be set, CLOUDHSM_PIN as <username>:<password>"))
			return 1
		}
		cr := &credentials{Role: r, User: user, Password: pw}
		if res := s.send(request{Op: "login", Login: cr}); res.ErrorCode != 0 {
			s.print(res)
			return 1
		}
		s.login = cr
	}
	res := s.execute(p)
	s.print(res)
	if res.ErrorCode != 0 {
		return 1
	}
	return 0
}

// loop is interactive mode: a prompt, a command line read from stdin, its result; quit, exit or
// the end of input ends it with exit code 0.
func (s *session) loop() int {
	for {
		fmt.Fprint(s.out, "aws-cloudhsm > ")
		line, err := s.in.ReadString('\n')
		if strings.TrimSpace(line) == "" {
			if err != nil {
				fmt.Fprintln(s.out)
				return 0
			}
			continue
		}
		tokens, terr := splitLine(line)
		if terr != nil {
			fmt.Fprint(s.errw, (&usageError{msg: terr.Error()}).Error())
			continue
		}
		p, perr := parse(tokens, true)
		switch {
		case perr != nil:
			fmt.Fprint(s.errw, perr.Error())
		case p.quit:
			return 0
		case p.about:
			s.about()
		case p.help:
			s.help(p.cmd)
		default:
			s.print(s.execute(p))
		}
		if err != nil {
			fmt.Fprintln(s.out)
			return 0
		}
	}
}

// execute runs an accepted command.
func (s *session) execute(p parsed) Result {
	req := request{Op: p.cmd.path, Username: p.opts["--username"], Role: p.opts["--role"]}
	switch p.cmd.path {
	case "logout":
		if s.login == nil {
			return failure("No user is logged in")
		}
		s.login = nil
		return Result{Data: "Logout successful"}
	case "login":
		pw, res, ok := s.password(p, false)
		if !ok {
			return res
		}
		cr := &credentials{Role: req.Role, User: req.Username, Password: pw}
		res = s.send(request{Op: "login", Login: cr})
		if res.ErrorCode == 0 && s.interactive {
			s.login = cr
		}
		return res
	}
	if p.cmd.login {
		if s.login == nil {
			return failure("This command requires a logged-in user: log in first (interactive mode: login; single-command mode: set CLOUDHSM_ROLE and CLOUDHSM_PIN)")
		}
		req.Login = s.login
	}
	if _, ok := p.opts["--password"]; ok || p.cmd.newPassword {
		pw, res, ok := s.password(p, p.cmd.newPassword)
		if !ok {
			return res
		}
		req.Password = pw
	}
	return s.send(req)
}

// password is --password, or the answer to the prompt read from stdin (twice, and compared, for a
// password being set). ok is false with the result to print when none could be read.
func (s *session) password(p parsed, confirm bool) (string, Result, bool) {
	if pw, ok := p.opts["--password"]; ok {
		return pw, Result{}, true
	}
	pw, err := s.prompt("Enter password:")
	if err != nil {
		return "", failure("Failed to read the password from the prompt: " + err.Error()), false
	}
	if confirm {
		again, err := s.prompt("Confirm password:")
		if err != nil {
			return "", failure("Failed to read the password from the prompt: " + err.Error()), false
		}
		if again != pw {
			return "", failure("Passwords do not match"), false
		}
	}
	return pw, Result{}, true
}

func (s *session) prompt(text string) (string, error) {
	fmt.Fprint(s.errw, text)
	line, err := s.in.ReadString('\n')
	fmt.Fprintln(s.errw)
	if err != nil && line == "" {
		return "", errors.New("end of input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// send completes req with the client's configuration and sends it to the cluster.
func (s *session) send(req request) Result {
	ip, ca, problem := s.config()
	if problem != "" {
		return failure(problem)
	}
	req.HsmIP, req.CA = ip, ca
	return s.c.do(req)
}

// clientConfig is the part of cloudhsm-cli.cfg the stand-in reads.
type clientConfig struct {
	Clusters []struct {
		Cluster struct {
			HsmCAFile string `json:"hsm_ca_file"`
			Servers   []struct {
				Hostname string `json:"hostname"`
				Port     int    `json:"port"`
				Enable   bool   `json:"enable"`
			} `json:"servers"`
		} `json:"cluster"`
	} `json:"clusters"`
}

// config reads the address of the first enabled HSM and the CA certificate the client trusts;
// problem is the CLI's message when it cannot.
func (s *session) config() (ip, ca, problem string) {
	path := filepath.Join(s.etc, "cloudhsm-cli.cfg")
	b, readErr := os.ReadFile(path)
	if readErr != nil {
		return "", "", fmt.Sprintf("Failed to read the client configuration %s: configure the client with configure-cli -a <HSM IP address>", path)
	}
	var cfg clientConfig
	if err := json.Unmarshal(b, &cfg); err != nil || len(cfg.Clusters) == 0 {
		return "", "", fmt.Sprintf("Failed to parse the client configuration %s", path)
	}
	cl := cfg.Clusters[0].Cluster
	for _, srv := range cl.Servers {
		if srv.Enable {
			ip = srv.Hostname
			break
		}
	}
	if ip == "" {
		return "", "", fmt.Sprintf("The client configuration %s names no HSM: run configure-cli -a <HSM IP address>", path)
	}
	pem, err := os.ReadFile(cl.HsmCAFile)
	if err != nil {
		return "", "", fmt.Sprintf("Failed to connect to the cluster: cannot read the CA certificate %s", cl.HsmCAFile)
	}
	return ip, string(pem), ""
}

func (s *session) print(r Result) {
	b, _ := json.MarshalIndent(r, "", "  ")
	fmt.Fprintln(s.out, string(b))
}

func (s *session) about() {
	fmt.Fprintln(s.out, "Usage: cloudhsm-cli [OPTIONS] <COMMAND>\n\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(s.out, "  %-22s %s\n", c.path, c.about)
	}
	fmt.Fprintln(s.out, "  interactive            Run in interactive mode\n  help                   Print this message or the help of the given subcommand(s)")
}

func (s *session) help(c commandDef) {
	fmt.Fprintf(s.out, "%s\n\nUsage: %s\n\nOptions:\n", c.about, c.usage())
	for _, f := range c.flags {
		fmt.Fprintf(s.out, "      %s %s\n", f.name, f.value)
	}
	fmt.Fprintln(s.out, "  -h, --help\n          Print help")
}

// etcDir is the etc directory beside the tool's bin directory ($CLOUDHSM_HOME/etc on the
// instance), found from the path the tool was started by, or through PATH when it was started by
// its bare name.
func etcDir(argv0 string, env []string) string {
	path := argv0
	if !strings.Contains(argv0, "/") {
		if home := lookup(env, "CLOUDHSM_HOME"); home != "" {
			return filepath.Join(home, "etc")
		}
		if p, err := exec.LookPath(argv0); err == nil {
			path = p
		}
	}
	return filepath.Join(filepath.Dir(filepath.Dir(path)), "etc")
}

// splitLine splits an interactive command line into words: blanks separate them, single or double
// quotes group, a backslash escapes the next character.
func splitLine(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	runes := []rune(strings.TrimRight(line, "\r\n"))
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\' && i+1 < len(runes):
			i++
			cur.WriteRune(runes[i])
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote in the command line")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
