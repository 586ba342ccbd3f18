package rotation_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/rotationtest"
)

func TestSingleUserEndToEnd(t *testing.T) {
	h := newHarness(t)
	u, arn := h.newUserSecret(t, false)
	original, _ := h.value(t, arn, "AWSCURRENT")

	for round := 1; round <= 2; round++ {
		before, beforeID := h.value(t, arn, "AWSCURRENT")
		h.mustRotate(t, arn)
		cur, curID := h.value(t, arn, "AWSCURRENT")
		prev, prevID := h.value(t, arn, "AWSPREVIOUS")
		if curID == beforeID || prevID != beforeID {
			t.Fatalf("round %d: AWSCURRENT %s, AWSPREVIOUS %s, want the new version current and %s previous", round, curID, prevID, beforeID)
		}
		if cur.Username != u.name || cur.Password == before.Password || len(cur.Password) != rotation.DefaultPasswordLength {
			t.Fatalf("round %d: new version has user %s and a %d-character password", round, cur.Username, len(cur.Password))
		}
		if strings.ContainsAny(cur.Password, rotation.DefaultExcludeCharacters) {
			t.Fatalf("round %d: new password has an excluded character", round)
		}
		logsIn(t, cur, "AWSCURRENT")
		refused(t, prev, "AWSPREVIOUS (the old password)")
		if h.pendingVersion(t, arn) != "" {
			t.Fatalf("round %d: AWSPENDING left on a version that is not current", round)
		}
	}
	refused(t, original, "the original password")
	h.scanForSecrets(t, u.password)
}

// TestLongestUsername: a 74-character user gets an 80-character clone, MariaDB's limit.
func TestLongestUsername(t *testing.T) {
	h := newHarness(t)
	master := h.createSecret(t, newAdmin(t).secret(""))
	u := newUser(t)
	long := user{name: u.name + "_" + strings.Repeat("x", 73-len(u.name)), password: u.password, dbname: u.dbname}
	if err := db.CreateUser(ctx(t), long.name, long.password, "SELECT ON `"+u.dbname+"`.*"); err != nil {
		t.Fatal(err)
	}
	arn := h.createSecret(t, long.secret(master))
	h.mustRotate(t, arn)
	cur, _ := h.value(t, arn, "AWSCURRENT")
	if len(cur.Username) != 80 {
		t.Fatalf("clone name has %d characters, want 80", len(cur.Username))
	}
	logsIn(t, cur, "the 80-character clone")
}

func TestAlternatingUsersEndToEnd(t *testing.T) {
	h := newHarness(t)
	admin := newAdmin(t)
	masterARN := h.createSecret(t, admin.secret(""))
	u := newUser(t)
	arn := h.createSecret(t, u.secret(masterARN))
	wantGrants := grants(t, u.name)

	names := []string{u.name + "_clone", u.name, u.name + "_clone"}
	for round, want := range names {
		h.mustRotate(t, arn)
		cur, _ := h.value(t, arn, "AWSCURRENT")
		prev, _ := h.value(t, arn, "AWSPREVIOUS")
		if cur.Username != want || cur.MasterARN != masterARN || cur.DBName != u.dbname {
			t.Fatalf("round %d: AWSCURRENT is user %s (masterarn %q, dbname %q), want %s", round+1, cur.Username, cur.MasterARN, cur.DBName, want)
		}
		// Both users work: the current one and the one clients may still hold.
		logsIn(t, cur, "AWSCURRENT")
		logsIn(t, prev, "AWSPREVIOUS")
		if got := grants(t, cur.Username); !slices.Equal(got, wantGrants) {
			t.Fatalf("round %d: %s has grants %q, want %q", round+1, cur.Username, got, wantGrants)
		}
	}
	// The superuser's password is untouched.
	if err := db.Login(ctx(t), admin.name, admin.password, ""); err != nil {
		t.Fatalf("superuser no longer logs in: %v", err)
	}
	h.scanForSecrets(t, u.password, admin.password)
}

// TestEachStepTwice runs every step twice in a row in the same rotation: the second run must see
// the work done and change nothing.
func TestEachStepTwice(t *testing.T) {
	for _, alternating := range []bool{false, true} {
		name := map[bool]string{false: "single user", true: "alternating users"}[alternating]
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			_, arn := h.newUserSecret(t, alternating)
			var pendingAfter []string
			h.setWrap(func(ev rotation.Event, run func() error) error {
				if err := run(); err != nil {
					return err
				}
				if ev.Step == rotation.StepCreate {
					s, _ := h.value(t, arn, "AWSPENDING")
					pendingAfter = append(pendingAfter, s.Password)
				}
				if err := run(); err != nil {
					return err
				}
				if ev.Step == rotation.StepCreate {
					s, _ := h.value(t, arn, "AWSPENDING")
					pendingAfter = append(pendingAfter, s.Password)
				}
				return nil
			})
			h.mustRotate(t, arn)
			if len(pendingAfter) != 2 || pendingAfter[0] != pendingAfter[1] {
				t.Fatal("the second createSecret changed the AWSPENDING password")
			}
			cur, _ := h.value(t, arn, "AWSCURRENT")
			if cur.Password != pendingAfter[0] {
				t.Fatal("AWSCURRENT is not the password createSecret stored")
			}
			logsIn(t, cur, "AWSCURRENT")
			if n := len(h.stages(t, arn)); n != 2 {
				t.Fatalf("secret has %d labelled versions, want 2 (current and previous)", n)
			}
		})
	}
}

// TestCrashAfterEachStep makes the function fail right after each step did its work (as a timeout
// or a crash would), then starts a fresh rotation: it must converge, with working credentials.
func TestCrashAfterEachStep(t *testing.T) {
	for _, alternating := range []bool{false, true} {
		for _, step := range []string{rotation.StepCreate, rotation.StepSet, rotation.StepTest, rotation.StepFinish} {
			name := map[bool]string{false: "single user", true: "alternating users"}[alternating] + "/" + step
			t.Run(name, func(t *testing.T) {
				h := newHarness(t)
				u, arn := h.newUserSecret(t, alternating)
				h.setWrap(crashAfter(step, 1))
				if fnErr, _ := h.rotate(t, arn); !strings.Contains(fnErr, "simulated crash") {
					t.Fatalf("first rotation: function error %q, want the simulated crash", fnErr)
				}
				cur, _ := h.value(t, arn, "AWSCURRENT")
				switch {
				case alternating:
					// Alternating users keep working through a failed rotation.
					logsIn(t, cur, "AWSCURRENT right after the crash")
				case step == rotation.StepSet || step == rotation.StepTest:
					// Single user: the database already has the pending password, which is the
					// window secretclient's AWSPENDING fallback covers.
					refused(t, cur, "AWSCURRENT between setSecret and finishSecret")
				default:
					logsIn(t, cur, "AWSCURRENT right after the crash")
				}
				// A fresh rotation: Secrets Manager either reattempts the unfinished one (and says
				// so) or, when the crash came after finishSecret, starts a new one.
				fnErr, startErr := h.rotate(t, arn)
				if fnErr != "" {
					t.Fatalf("fresh rotation failed: %s", fnErr)
				}
				if startErr != nil && !strings.Contains(startErr.Error(), "previous rotation isn't complete") {
					t.Fatalf("fresh RotateSecret: %v", startErr)
				}
				if v := h.pendingVersion(t, arn); v != "" {
					t.Fatalf("AWSPENDING still on version %s after the fresh rotation", v)
				}
				cur, _ = h.value(t, arn, "AWSCURRENT")
				logsIn(t, cur, "AWSCURRENT after convergence")
				if cur.Password == u.password {
					t.Fatal("the password never changed")
				}
				if alternating {
					prev, _ := h.value(t, arn, "AWSPREVIOUS")
					logsIn(t, prev, "AWSPREVIOUS after convergence")
				}
				// And the next rotation works normally.
				h.mustRotate(t, arn)
				cur, _ = h.value(t, arn, "AWSCURRENT")
				logsIn(t, cur, "AWSCURRENT after one more rotation")
			})
		}
	}
}

func TestTokenChecks(t *testing.T) {
	h := newHarness(t)
	_, arn := h.newUserSecret(t, false)
	_, curID := h.value(t, arn, "AWSCURRENT")
	rot, err := rotation.New(h.client, rotation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ev      rotation.Event
		wantErr string
	}{
		{"unknown step", rotation.Event{Step: "create_secret", SecretID: arn, ClientRequestToken: curID}, `Step "create_secret" is not one of`},
		{"no secret id", rotation.Event{Step: rotation.StepCreate, ClientRequestToken: curID}, "SecretId is empty"},
		{"no token", rotation.Event{Step: rotation.StepCreate, SecretID: arn}, "ClientRequestToken is empty"},
		{"token is not a version", rotation.Event{Step: rotation.StepSet, SecretID: arn, ClientRequestToken: "11111111-2222-3333-4444-555555555555"}, "has no stage for rotation"},
		{"token already current", rotation.Event{Step: rotation.StepSet, SecretID: arn, ClientRequestToken: curID}, ""},
		{"secret does not exist", rotation.Event{Step: rotation.StepCreate, SecretID: arn + "x", ClientRequestToken: curID}, "ResourceNotFoundException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rot.Handle(ctx(t), tc.ev)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Handle error = %v, want it to contain %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tc.ev.Step+": ") {
				t.Fatalf("error %q does not start with the step", err)
			}
		})
	}

	// A version that exists but is neither pending nor current.
	put, err := h.client.PutSecretValue(ctx(t), &sm.PutSecretValueInput{SecretId: aws.String(arn),
		SecretString: aws.String(`{"engine":"mariadb","host":"h","username":"u","password":"p"}`), VersionStages: []string{"SOMETHING"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = rot.Handle(ctx(t), rotation.Event{Step: rotation.StepTest, SecretID: arn, ClientRequestToken: aws.ToString(put.VersionId)})
	if err == nil || !strings.Contains(err.Error(), "not set as AWSPENDING") {
		t.Fatalf("Handle error = %v, want not set as AWSPENDING", err)
	}
	// Rotation turned off (after it was on once: DescribeSecret reports RotationEnabled only then).
	h.mustRotate(t, arn)
	if _, err := h.client.CancelRotateSecret(ctx(t), &sm.CancelRotateSecretInput{SecretId: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	desc, err := h.client.DescribeSecret(ctx(t), &sm.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if desc.RotationEnabled == nil || *desc.RotationEnabled {
		t.Fatalf("after CancelRotateSecret, RotationEnabled = %v", desc.RotationEnabled)
	}
	_, err = rot.Handle(ctx(t), rotation.Event{Step: rotation.StepCreate, SecretID: arn, ClientRequestToken: curID})
	if err == nil || !strings.Contains(err.Error(), "not enabled for rotation") {
		t.Fatalf("Handle error = %v, want not enabled for rotation", err)
	}
}

func TestPasswordSettings(t *testing.T) {
	exclude := rotation.DefaultExcludeCharacters + "aeiouAEIOU0"
	h := newHarness(t, func(c *rotation.Config) { c.PasswordLength = 20; c.ExcludeCharacters = &exclude })
	_, arn := h.newUserSecret(t, false)
	for i := 0; i < 3; i++ {
		h.mustRotate(t, arn)
		cur, _ := h.value(t, arn, "AWSCURRENT")
		if len(cur.Password) != 20 || strings.ContainsAny(cur.Password, exclude) {
			t.Fatalf("password of %d characters with excluded characters: %v", len(cur.Password), strings.ContainsAny(cur.Password, exclude))
		}
		logsIn(t, cur, "AWSCURRENT")
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	all := ""
	for c := byte('!'); c <= '~'; c++ {
		all += string(c)
	}
	tests := []struct {
		name string
		cfg  rotation.Config
		want string
	}{
		{"password too short", rotation.Config{PasswordLength: 8}, "password length 8"},
		{"password too long", rotation.Config{PasswordLength: 4096}, "password length 4096"},
		{"everything excluded", rotation.Config{ExcludeCharacters: &all}, "exclude fewer"},
		{"unknown strategy", rotation.Config{Strategy: "both"}, `strategy "both"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rotation.New(sm.New(sm.Options{}), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := rotation.New(nil, rotation.Config{}); err == nil {
		t.Fatal("New accepted a nil client")
	}
}

// TestRotateImmediatelyFalse: Secrets Manager then runs only testSecret, on an empty AWSPENDING
// version, to test the configuration. It passes when the function can log in, fails when it cannot,
// and changes nothing either way.
func TestRotateImmediatelyFalse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		port    int
		wantErr string
	}{
		{"database reachable", 0, ""},
		{"database unreachable", -1, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			u := newUser(t)
			s := u.secret("")
			if tc.port < 0 {
				s.Port = closedPort(t)
			}
			arn := h.createSecret(t, s)
			before := h.stages(t, arn)
			_, err := h.client.RotateSecret(ctx(t), &sm.RotateSecretInput{SecretId: aws.String(arn),
				RotationLambdaARN: aws.String(h.fnARN), RotateImmediately: aws.Bool(false)})
			if err != nil {
				t.Fatal(err)
			}
			h.waitIdle(t, arn)
			hist := h.env.Lambda.History(rotationtest.FunctionName)
			if len(hist) != 1 || !strings.Contains(string(hist[0].Payload), `"Step":"testSecret"`) {
				t.Fatalf("%d invocations, want one testSecret", len(hist))
			}
			got := ""
			if hist[0].Error != nil {
				got = hist[0].Error.Message
			}
			if (tc.wantErr == "") != (got == "") || !strings.Contains(got, tc.wantErr) {
				t.Fatalf("testSecret error %q, want %q", got, tc.wantErr)
			}
			if after := h.stages(t, arn); len(after) != len(before) {
				t.Fatalf("versions changed from %v to %v", before, after)
			}
			logsIn(t, u.secret(""), "the untouched credentials")
		})
	}
}

// TestAbandonedRotationRecovers: a single-user rotation stops after setSecret and an operator then
// removes its AWSPENDING label (AWS's advice for "A previous rotation isn't complete"). The
// database has a password that only the now unlabelled version holds; the next rotation finds it.
func TestAbandonedRotationRecovers(t *testing.T) {
	h := newHarness(t)
	u, arn := h.newUserSecret(t, false)
	h.setWrap(crashAfter(rotation.StepSet, 1))
	if fnErr, _ := h.rotate(t, arn); !strings.Contains(fnErr, "simulated crash") {
		t.Fatalf("first rotation: %q", fnErr)
	}
	pending := h.pendingVersion(t, arn)
	if pending == "" {
		t.Fatal("no AWSPENDING after the crash")
	}
	if _, err := h.client.UpdateSecretVersionStage(ctx(t), &sm.UpdateSecretVersionStageInput{SecretId: aws.String(arn),
		VersionStage: aws.String("AWSPENDING"), RemoveFromVersionId: aws.String(pending)}); err != nil {
		t.Fatal(err)
	}
	h.mustRotate(t, arn)
	cur, _ := h.value(t, arn, "AWSCURRENT")
	logsIn(t, cur, "AWSCURRENT after recovering from the abandoned rotation")
	h.scanForSecrets(t, u.password)
}

// TestCloneCopiesEveryKindOfGrant: table and column privileges, a grant option, a role and the
// default role all reach the clone. Granting a role needs the superuser to hold it WITH ADMIN
// OPTION, as MariaDB requires (a role the RDS master user created is its own).
func TestCloneCopiesEveryKindOfGrant(t *testing.T) {
	h := newHarness(t)
	admin := newAdmin(t)
	master := h.createSecret(t, admin.secret(""))
	u := newUser(t)
	role := db.UniqueName("reader")
	if err := db.Exec(ctx(t),
		"CREATE ROLE `"+role+"`",
		"GRANT `"+role+"` TO '"+admin.name+"'@'%' WITH ADMIN OPTION",
		"GRANT SELECT ON `"+u.dbname+"`.* TO `"+role+"`",
		"GRANT `"+role+"` TO '"+u.name+"'@'%'",
		"SET DEFAULT ROLE `"+role+"` FOR '"+u.name+"'@'%'",
		"GRANT DELETE ON `"+u.dbname+"`.t TO '"+u.name+"'@'%' WITH GRANT OPTION",
		"GRANT UPDATE (v) ON `"+u.dbname+"`.t TO '"+u.name+"'@'%'",
	); err != nil {
		t.Fatal(err)
	}
	want := grants(t, u.name)
	joined := strings.Join(want, "\n")
	for _, w := range []string{"GRANT `" + role + "` TO USER", "SET DEFAULT ROLE `" + role + "` FOR USER", "WITH GRANT OPTION", "UPDATE (`v`)"} {
		if !strings.Contains(joined, w) {
			t.Fatalf("the user's grants lack %q:\n%s", w, joined)
		}
	}
	arn := h.createSecret(t, u.secret(master))
	h.mustRotate(t, arn)
	cur, _ := h.value(t, arn, "AWSCURRENT")
	if cur.Username != u.name+"_clone" {
		t.Fatalf("AWSCURRENT user %s", cur.Username)
	}
	if got := grants(t, cur.Username); !slices.Equal(got, want) {
		t.Fatalf("clone grants\n%q\nwant\n%q", got, want)
	}
	logsIn(t, cur, "the clone")
}
