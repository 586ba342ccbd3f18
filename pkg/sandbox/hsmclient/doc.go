// Package hsmclient is the CloudHSM client software of the sandbox's emulated client instance:
// stand-ins for `cloudhsm-cli` and `configure-cli` that behave as AWS's CloudHSM CLI reference
// describes them, and an `aws` shim, all reached by the shell scripts that package ssm runs as the
// SSM agent does.
//
// The tools are this process's own executable under another name (a multi-call binary, as busybox
// is): the emulated instance links /opt/cloudhsm/bin/cloudhsm-cli, /opt/cloudhsm/bin/configure-cli
// and /usr/local/bin/aws in its root to os.Executable(), and this package's init runs the tool its
// argv[0] names and exits. Any binary that links the sandbox (the strongroom CLI, a test binary)
// therefore carries the instance's tools, with nothing to build or install.
//
// cloudhsm-cli follows the reference: single-command mode (`cloudhsm-cli user list`, with login
// credentials from CLOUDHSM_ROLE and CLOUDHSM_PIN=<user>:<password>) and interactive mode
// (`cloudhsm-cli interactive`, commands read line by line from stdin, `login` keeping a session,
// `quit`); the commands login, logout, user list, user create, user delete, user change-password
// and cluster activate with their documented flags; a password not given with --password is
// prompted for ("Enter password:", and "Confirm password:" where a new one is set) and read from
// stdin; every command prints {"error_code": N, "data": ...}; an unknown command, flag or role
// value is refused as the CLI's argument parser refuses it (an "error: ..." line and exit code 2);
// in single-command mode a failed command exits 1. configure-cli -a <ip> writes the client's
// configuration ($CLOUDHSM_HOME/etc/cloudhsm-cli.cfg, found next to the tool's own bin directory)
// and --hsm-ca-cert installs a CA certificate.
//
// The cluster the tools reach is the emulated one (package cloudhsm): they send each operation,
// with the HSM address from the configuration and the customer CA certificate installed on the
// instance, to the instance's endpoint (Handler, InstanceEndpoint), which connects as a client
// would (across the VPC, whose security groups must let the instance out and into the HSM's group
// on port 2223, or no HSM answers; then the address must be an ACTIVE HSM's, the certificate the
// cluster's trust anchor) and answers in the CLI's words. Every tool also reports its argv and environment there before it runs, so the
// sandbox's secret scan covers every process the scripts start through these tools.
//
// The aws shim runs Debian's AWS CLI unchanged, pointed at the sandbox; where the instance has an
// AWSCLIServer (awscli.go) it runs it there, forked from a process that imported the CLI once and
// read its data files (awscli_server.py), so a call costs the CLI's work but not its interpreter
// start; a model added under ~/.aws/models after its service was first used is not seen.
//
// Known differences from the real CLI: no key, crypto, quorum or MFA commands; `--cluster-id` is
// accepted and ignored (one cluster per configuration); configure-cli's --cluster-id discovery
// (which calls DescribeClusters) is refused with a message; the tools read the instance endpoint
// from STRONGROOM_SANDBOX_INSTANCE, which only the emulated instance sets.
package hsmclient
