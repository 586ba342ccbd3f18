package hsmcluster_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"

	"github.com/strongroom/strongroom/infra/hsmcluster"
	"github.com/strongroom/strongroom/infra/templatetest"
)

// fakeRPM is what the fake curl downloads.
const fakeRPM = "not really an rpm: cloudhsm-cli test bytes\n"

// installRun is one run of the install script against fake curl and dnf.
type installRun struct {
	err      error
	stderr   string
	curlArgs []string // one line per argument
	dnfArgs  []string // nil when dnf was never called
	dnfSaw   string   // the content of the file dnf was given, when it ran
	tmp      string   // the script's TMPDIR
}

// runInstall writes ClientInstallScript(version, sum) to a temporary directory and runs it with
// bash, with a PATH whose curl writes fakeRPM to its -o file and whose dnf records its arguments
// (and the content of the file it is given); the rest of PATH is the system's, for sha256sum,
// mktemp and the other coreutils.
func runInstall(t *testing.T, version, sum string) installRun {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	tmp := filepath.Join(dir, "tmp")
	for _, d := range []string{bin, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	curlLog, dnfLog, dnfSaw := filepath.Join(dir, "curl.args"), filepath.Join(dir, "dnf.args"), filepath.Join(dir, "dnf.saw")
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(name, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(bin, "curl"), `#!/bin/bash
set -eu
printf '%s\n' "$@" > '`+curlLog+`'
out=
while [ $# -gt 0 ]; do
  if [ "$1" = -o ]; then out="$2"; shift; fi
  shift
done
[ -n "$out" ] || { echo "fake curl: no -o" >&2; exit 2; }
printf '%s' '`+fakeRPM+`' > "$out"
`, 0o755)
	write(filepath.Join(bin, "dnf"), `#!/bin/bash
set -eu
printf '%s\n' "$@" > '`+dnfLog+`'
for a in "$@"; do
  if [ -f "$a" ]; then cat "$a" > '`+dnfSaw+`'; fi
done
`, 0o755)
	script := filepath.Join(dir, "userdata.sh")
	write(script, hsmcluster.ClientInstallScript(version, sum)+"\n", 0o644)

	cmd := exec.Command("bash", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "TMPDIR=" + tmp, "HOME=" + dir, "LC_ALL=C"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	r := installRun{err: cmd.Run(), stderr: stderr.String(), tmp: tmp}
	lines := func(name string) []string {
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
	r.curlArgs, r.dnfArgs = lines(curlLog), lines(dnfLog)
	if b, err := os.ReadFile(dnfSaw); err == nil {
		r.dnfSaw = string(b)
	}
	return r
}

// downloadedFile is the -o argument the script gave curl.
func (r installRun) downloadedFile(t *testing.T) string {
	t.Helper()
	for i, a := range r.curlArgs {
		if a == "-o" && i+1 < len(r.curlArgs) {
			return r.curlArgs[i+1]
		}
	}
	t.Fatalf("curl was not given -o: %q", r.curlArgs)
	return ""
}

// checkNothingLeft: the script removed the download and its directory, success or not.
func (r installRun) checkNothingLeft(t *testing.T) {
	t.Helper()
	left, err := os.ReadDir(r.tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("the script left %d entries in TMPDIR, such as %s", len(left), left[0].Name())
	}
}

func TestClientInstallScriptInstallsTheCheckedPackage(t *testing.T) {
	sum := sha256.Sum256([]byte(fakeRPM))
	r := runInstall(t, "5.17.0", hex.EncodeToString(sum[:]))
	if r.err != nil {
		t.Fatalf("script failed: %v\nstderr:\n%s", r.err, r.stderr)
	}
	file := r.downloadedFile(t)
	wantURL := "https://s3.amazonaws.com/cloudhsmv2-software/CloudHsmClient/Amzn2023/cloudhsm-cli-5.17.0-1.amzn2023.x86_64.rpm"
	curl := strings.Join(r.curlArgs, " ")
	for _, w := range []string{"-fsSL", "--retry", wantURL} {
		if !strings.Contains(curl, w) {
			t.Errorf("curl %s: no %s", curl, w)
		}
	}
	if !strings.HasPrefix(file, r.tmp+string(filepath.Separator)) || filepath.Base(file) != filepath.Base(wantURL) {
		t.Errorf("downloaded to %s; want the rpm's own name (dnf installs only *.rpm files) in a directory under TMPDIR %s", file, r.tmp)
	}
	if want := []string{"install", "-y", file}; strings.Join(r.dnfArgs, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("dnf %q, want %q", r.dnfArgs, want)
	}
	if r.dnfSaw != fakeRPM {
		t.Errorf("dnf was given a file holding %q, want the download", r.dnfSaw)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the download %s is still there after the install (%v)", file, err)
	}
	r.checkNothingLeft(t)
}

func TestClientInstallScriptRefusesAChecksumMismatch(t *testing.T) {
	// The pinned checksum, which the fake download does not have.
	r := runInstall(t, hsmcluster.DefaultCloudHsmCliVersion, hsmcluster.DefaultCloudHsmCliSha256)
	var exit *exec.ExitError
	if !errors.As(r.err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("script ended with %v, want a non-zero exit\nstderr:\n%s", r.err, r.stderr)
	}
	if r.dnfArgs != nil {
		t.Errorf("dnf ran (%q) on a package whose checksum does not match", r.dnfArgs)
	}
	if len(r.curlArgs) == 0 {
		t.Error("curl never ran: the script failed before the check")
	}
	for _, w := range []string{"checksum mismatch", "expected SHA256 checksum " + hsmcluster.DefaultCloudHsmCliSha256} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not contain %q", r.stderr, w)
		}
	}
	r.checkNothingLeft(t)
}

// TestClientUserDataIsPinned: the synthesized client instance's user data is the pinned,
// checked install, and nothing in it installs "latest".
func TestClientUserDataIsPinned(t *testing.T) {
	_, instance := templatetest.Only(t, tmpl, "AWS::EC2::Instance", "Client")
	raw, err := json.Marshal(instance["UserData"])
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(map[string]any{"Fn::Base64": "#!/bin/bash\n" +
		hsmcluster.ClientInstallScript(hsmcluster.DefaultCloudHsmCliVersion, hsmcluster.DefaultCloudHsmCliSha256)})
	if string(raw) != string(want) {
		t.Errorf("client user data\n%s\nwant\n%s", raw, want)
	}
	for _, w := range []string{"cloudhsm-cli-" + hsmcluster.DefaultCloudHsmCliVersion + "-1.amzn2023.x86_64.rpm", hsmcluster.DefaultCloudHsmCliSha256, "sha256sum --check"} {
		if !strings.Contains(string(raw), w) {
			t.Errorf("client user data does not contain %q", w)
		}
	}
	if strings.Contains(string(raw), "latest") {
		t.Error("client user data installs a latest package")
	}
}

func TestClusterStackChecksTheClientPackage(t *testing.T) {
	const sum = "4f5a7e0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f"
	cases := []struct {
		name, version, sum, want string
	}{
		{"version alone", "5.17.2", "", "set both"},
		{"checksum alone", "", sum, "set both"},
		{"latest", "latest", sum, `"latest" is not a Client SDK 5 version`},
		{"upper-case checksum", "5.17.2", strings.ToUpper(sum), "64 lowercase hex digits"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := hsmcluster.CheckClientPackage(c.version, c.sum); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("CheckClientPackage: %v, want an error containing %q", err, c.want)
			}
		})
	}
	if err := hsmcluster.CheckClientPackage("5.17.2", sum); err != nil {
		t.Errorf("CheckClientPackage refused a well-formed pair: %v", err)
	}
	// The stack refuses one without the other before declaring anything.
	_, err := hsmcluster.NewClusterStack(awscdk.NewApp(nil), "Refused", &hsmcluster.StackProps{CloudHsmCliVersion: "5.17.2"})
	if err == nil || !strings.Contains(err.Error(), "CloudHsmCliSha256") {
		t.Errorf("NewClusterStack with a version and no checksum: %v", err)
	}
}
