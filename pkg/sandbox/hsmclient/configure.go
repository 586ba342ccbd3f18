package hsmclient

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// configureCLI is configure-cli: -a/--hsm-ip-addresses writes the HSM addresses into
// cloudhsm-cli.cfg, --hsm-ca-cert copies a CA certificate to customerCA.crt, the logging and
// key-availability switches are kept in the file. It prints nothing on success, as the real tool.
func configureCLI(args []string, env []string, _ io.Reader, stdout, stderr io.Writer) int {
	const usage = "configure-cli [OPTIONS]"
	refuse := func(msg string) int {
		fmt.Fprint(stderr, (&usageError{msg: msg, usage: usage}).Error())
		return 2
	}
	etc := etcDir(args[0], env)
	var ips []string
	var caFile string
	options := map[string]any{}
	rest := args[1:]
	if len(rest) == 0 {
		return refuse("one of --hsm-ip-addresses, --cluster-id or --hsm-ca-cert is required")
	}
	for i := 0; i < len(rest); i++ {
		name, value, inline := strings.Cut(rest[i], "=")
		takeValue := func() (string, bool) {
			if inline {
				return value, true
			}
			if i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "-") {
				i++
				return rest[i], true
			}
			return "", false
		}
		switch name {
		case "-h", "--help":
			fmt.Fprintf(stdout, "Usage: %s\n\nOptions:\n  -a, --hsm-ip-addresses <HSM_IP_ADDRESSES>...\n      --hsm-ca-cert <HSM_CA_CERT>\n      --disable-key-availability-check\n      --enable-key-availability-check\n      --log-level <LOG_LEVEL>\n      --log-type <LOG_TYPE>\n      --log-file <LOG_FILE>\n      --log-rotation <LOG_ROTATION>\n  -h, --help\n  -V, --version\n", usage)
			return 0
		case "-V", "--version":
			fmt.Fprintln(stdout, "configure-cli 5.16.0 (Strongroom sandbox stand-in)")
			return 0
		case "-a", "--hsm-ip-addresses":
			if inline {
				ips = append(ips, value)
				continue
			}
			for i+1 < len(rest) && !strings.HasPrefix(rest[i+1], "-") {
				i++
				ips = append(ips, rest[i])
			}
			if len(ips) == 0 {
				return refuse("a value is required for '--hsm-ip-addresses <HSM_IP_ADDRESSES>...' but none was supplied")
			}
		case "--hsm-ca-cert":
			v, ok := takeValue()
			if !ok {
				return refuse("a value is required for '--hsm-ca-cert <HSM_CA_CERT>' but none was supplied")
			}
			caFile = v
		case "--disable-key-availability-check", "--enable-key-availability-check":
			options["disable_key_availability_check"] = name == "--disable-key-availability-check"
		case "--log-level", "--log-type", "--log-file", "--log-rotation":
			v, ok := takeValue()
			if !ok {
				return refuse(fmt.Sprintf("a value is required for '%s' but none was supplied", name))
			}
			options[strings.ReplaceAll(strings.TrimPrefix(name, "--"), "-", "_")] = v
		case "--cluster-id", "--region", "--endpoint":
			fmt.Fprintf(stderr, "configure-cli: %s (discovering HSMs with DescribeClusters) is not emulated by the sandbox's stand-in; use -a <HSM IP address>\n", name)
			return 1
		default:
			return refuse(fmt.Sprintf("unexpected argument '%s' found", rest[i]))
		}
	}
	if err := writeConfig(etc, ips, caFile, options); err != nil {
		fmt.Fprintf(stderr, "configure-cli: %v\n", err)
		return 1
	}
	return 0
}

// writeConfig updates cloudhsm-cli.cfg in etc: the servers when ips is not empty, the CA file when
// caFile is set (copied to customerCA.crt), and options.
func writeConfig(etc string, ips []string, caFile string, options map[string]any) error {
	path := filepath.Join(etc, "cloudhsm-cli.cfg")
	cfg := map[string]any{}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &cfg); err != nil {
			return fmt.Errorf("parse %s: %w", path, err)
		}
	}
	cluster := map[string]any{"hsm_ca_file": filepath.Join(etc, "customerCA.crt"), "servers": []any{}, "options": map[string]any{}}
	if cl, ok := cfg["clusters"].([]any); ok && len(cl) > 0 {
		if c, ok := cl[0].(map[string]any)["cluster"].(map[string]any); ok {
			cluster = c
		}
	}
	if len(ips) > 0 {
		servers := make([]any, 0, len(ips))
		for _, ip := range ips {
			servers = append(servers, map[string]any{"hostname": ip, "port": 2223, "enable": true})
		}
		cluster["servers"] = servers
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read the CA certificate: %w", err)
		}
		if err := os.WriteFile(filepath.Join(etc, "customerCA.crt"), pem, 0o644); err != nil {
			return fmt.Errorf("install the CA certificate: %w", err)
		}
	}
	opts, _ := cluster["options"].(map[string]any)
	if opts == nil {
		opts = map[string]any{}
	}
	for k, v := range options {
		opts[k] = v
	}
	cluster["options"] = opts
	cfg["clusters"] = []any{map[string]any{"type": "hsm1", "cluster": cluster}}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", etc, err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
