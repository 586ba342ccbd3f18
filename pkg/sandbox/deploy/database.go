package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Database is the database server an AWS::RDS::DBInstance of a deployed stack stands for: the
// sandbox has no RDS, so the caller brings a real server (the demo's MariaDB) and Deploy sets it up
// as RDS would set up a new instance.
type Database struct {
	// Host and Port are where clients connect: the instance's Endpoint.Address and Endpoint.Port
	// (the template's Port property is not honoured: the server's own port is what works).
	Host string
	Port int
	// CAFile is the PEM bundle that verifies the server's certificate. It stands for Amazon RDS's
	// CA bundle: a function whose environment names /var/task/<RDSBundleFile> gets this file.
	CAFile string
	// CreateMaster creates the instance's master user with password and RDS's master privileges,
	// and the database dbName when it is not empty, as RDS does when it creates an instance.
	CreateMaster func(ctx context.Context, user, password, dbName string) error
}

// RDSBundleFile is the file name of Amazon RDS's CA bundle in a function's asset (as
// infra/database ships it); in the sandbox it names Database.CAFile.
const RDSBundleFile = "rds-global-bundle.pem"

// nameChars make the random suffix of a name CloudFormation generates.
const nameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randomSuffix is n random nameChars, the suffix CloudFormation gives a name it generates.
func randomSuffix(n int) string {
	suffix := make([]byte, n)
	for i := range suffix {
		suffix[i] = nameChars[rand.IntN(len(nameChars))]
	}
	return string(suffix)
}

// taskRoot is where Lambda unpacks a function's asset.
const taskRoot = "/var/task/"

// taskFile maps a path under /var/task/ in a function's environment to the host file it names: the
// same file in the asset directory, or for Amazon RDS's CA bundle the sandbox database's CA (the
// offline synthesis ships no bundle, and no RDS CA signed the sandbox server's certificate).
func (d *Deployer) taskFile(assetDir, value string) (string, error) {
	name := strings.TrimPrefix(value, taskRoot)
	if name == RDSBundleFile && d.DB != nil && d.DB.CAFile != "" {
		return d.DB.CAFile, nil
	}
	p := filepath.Join(assetDir, filepath.FromSlash(name))
	if _, err := os.Stat(p); err != nil {
		if name == RDSBundleFile {
			return "", fmt.Errorf("%s names Amazon RDS's CA bundle, which the asset does not hold: deploy the stack's database with Deployer.DB (its CA stands for the bundle)", value)
		}
		return "", fmt.Errorf("%s: the function's asset %s holds no %s", value, assetDir, name)
	}
	return p, nil
}

// dynamicRef is a CloudFormation dynamic reference to a Secrets Manager secret:
// {{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}.
var dynamicRef = regexp.MustCompile(`\{\{resolve:secretsmanager:(arn:[^:]+:secretsmanager:[^:]+:[^:]+:secret:[^:]+|[^:}]+)(?::SecretString(?::([^:}]*)(?::([^:}]*)(?::([^:}]*))?)?)?)?\}\}`)

// resolveSecrets replaces every Secrets Manager dynamic reference in a string property with the
// value CloudFormation would put there. The values are secrets: they go only to the call that
// needs them.
func (d *Deployer) resolveSecrets(ctx context.Context, v string) (string, error) {
	var failed error
	out := dynamicRef.ReplaceAllStringFunc(v, func(ref string) string {
		m := dynamicRef.FindStringSubmatch(ref)
		in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(m[1])}
		if m[3] != "" {
			in.VersionStage = aws.String(m[3])
		}
		if m[4] != "" {
			in.VersionId = aws.String(m[4])
		}
		got, err := secretsmanager.NewFromConfig(d.Cfg).GetSecretValue(ctx, in)
		if err != nil {
			failed = errors.Join(failed, fmt.Errorf("resolve a dynamic reference to %s: %w", m[1], err))
			return ""
		}
		s := aws.ToString(got.SecretString)
		if m[2] == "" {
			return s
		}
		var fields map[string]any
		if err := json.Unmarshal([]byte(s), &fields); err != nil {
			failed = errors.Join(failed, fmt.Errorf("resolve %s's key %q: the secret's value is not a JSON object", m[1], m[2]))
			return ""
		}
		f, ok := fields[m[2]]
		if !ok {
			failed = errors.Join(failed, fmt.Errorf("resolve %s's key %q: the secret has no such key", m[1], m[2]))
			return ""
		}
		return fmt.Sprint(f)
	})
	return out, failed
}

// secret creates an AWS::SecretsManager::Secret: SecretString, or a value GenerateSecretString
// makes with Secrets Manager's GetRandomPassword (into SecretStringTemplate's GenerateStringKey).
// With no Name, CloudFormation names it <logical id>-<random>. Ref and Id are its ARN.
func (d *Deployer) secret(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	c := secretsmanager.NewFromConfig(d.Cfg)
	name := str(p["Name"])
	if name == "" {
		// Not GetRandomPassword: what it returns is a secret value, and a name is not.
		name = id + "-" + randomSuffix(12)
	}
	value := str(p["SecretString"])
	if g, ok := p["GenerateSecretString"].(map[string]any); ok {
		if value != "" {
			return errors.New("SecretString and GenerateSecretString are both set: CloudFormation takes one")
		}
		var err error
		if value, err = d.generate(ctx, c, g); err != nil {
			return fmt.Errorf("GenerateSecretString: %w", err)
		}
	}
	in := &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)}
	if v := str(p["Description"]); v != "" {
		in.Description = aws.String(v)
	}
	if v := str(p["KmsKeyId"]); v != "" {
		in.KmsKeyId = aws.String(v)
	}
	for _, t := range list(p["Tags"]) {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(str(t["Key"])), Value: aws.String(str(t["Value"]))})
	}
	out, err := c.CreateSecret(ctx, in)
	if err != nil {
		return err
	}
	arn := aws.ToString(out.ARN)
	set(arn, map[string]any{"Id": arn})
	d.progress("secret %s", name)
	return nil
}

// generate makes a GenerateSecretString value.
func (d *Deployer) generate(ctx context.Context, c *secretsmanager.Client, g map[string]any) (string, error) {
	in := &secretsmanager.GetRandomPasswordInput{}
	if v, ok := g["PasswordLength"]; ok {
		n, err := strconv.ParseInt(str(v), 10, 64)
		if err != nil {
			return "", fmt.Errorf("PasswordLength %v: not a number", v)
		}
		in.PasswordLength = aws.Int64(n)
	}
	if v := str(g["ExcludeCharacters"]); v != "" {
		in.ExcludeCharacters = aws.String(v)
	}
	for key, field := range map[string]**bool{
		"ExcludeLowercase": &in.ExcludeLowercase, "ExcludeUppercase": &in.ExcludeUppercase, "ExcludeNumbers": &in.ExcludeNumbers,
		"ExcludePunctuation": &in.ExcludePunctuation, "IncludeSpace": &in.IncludeSpace, "RequireEachIncludedType": &in.RequireEachIncludedType,
	} {
		if v, ok := g[key]; ok {
			*field = aws.Bool(str(v) == "true")
		}
	}
	pw, err := c.GetRandomPassword(ctx, in)
	if err != nil {
		return "", err
	}
	password := aws.ToString(pw.RandomPassword)
	tmpl, key := str(g["SecretStringTemplate"]), str(g["GenerateStringKey"])
	if (tmpl == "") != (key == "") {
		return "", errors.New("SecretStringTemplate and GenerateStringKey go together: set both or neither")
	}
	if tmpl == "" {
		return password, nil
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(tmpl), &fields); err != nil {
		return "", fmt.Errorf("SecretStringTemplate is not a JSON object: %w", err)
	}
	fields[key] = password
	b, err := json.Marshal(fields)
	return string(b), err
}

// dbInstance stands an AWS::RDS::DBInstance up on Deployer.DB: its master user (MasterUsername and
// MasterUserPassword, dynamic references resolved) and DBName. Ref is DBInstanceIdentifier (or the
// logical id in lower case); Endpoint.Address and Endpoint.Port are the server's.
func (d *Deployer) dbInstance(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	if d.DB == nil {
		return errors.New("the sandbox has no RDS: set Deployer.DB to the database server the instance stands for (the demo starts MariaDB)")
	}
	engine := str(p["Engine"])
	if engine != "mariadb" && engine != "mysql" {
		return fmt.Errorf("engine %q (property Engine): the sandbox's database server is MariaDB (mariadb or mysql)", engine)
	}
	user, err := d.resolveSecrets(ctx, str(p["MasterUsername"]))
	if err != nil {
		return fmt.Errorf("MasterUsername: %w", err)
	}
	password, err := d.resolveSecrets(ctx, str(p["MasterUserPassword"]))
	if err != nil {
		return fmt.Errorf("MasterUserPassword: %w", err)
	}
	if user == "" || password == "" {
		return errors.New("MasterUsername and MasterUserPassword are required (ManageMasterUserPassword is not emulated)")
	}
	if err := d.DB.CreateMaster(ctx, user, password, str(p["DBName"])); err != nil {
		return fmt.Errorf("create the master user on the database server: %w", err)
	}
	ident := strings.ToLower(str(p["DBInstanceIdentifier"]))
	if ident == "" {
		ident = strings.ToLower(physicalName(st, id, 63))
	}
	set(ident, map[string]any{
		"Endpoint.Address": d.DB.Host, "Endpoint.Port": strconv.Itoa(d.DB.Port),
		"DBInstanceArn": fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", d.SB.Region, d.SB.Account, ident),
		"engine":        engine, // for a target attachment; CloudFormation has no such attribute
	})
	d.progress("database instance %s = MariaDB on %s:%d", ident, d.DB.Host, d.DB.Port)
	return nil
}

// targetAttachment adds an RDS instance's connection details to a secret, as
// AWS::SecretsManager::SecretTargetAttachment does (a new AWSCURRENT version with engine, host,
// port and dbInstanceIdentifier). Ref is the secret's ARN.
func (d *Deployer) targetAttachment(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	if t := str(p["TargetType"]); t != "AWS::RDS::DBInstance" {
		return fmt.Errorf("TargetType %q: the sandbox attaches AWS::RDS::DBInstance only", t)
	}
	target := ""
	for lid, phys := range st.physical {
		if phys == str(p["TargetId"]) && st.Template.Resources[lid].Type == "AWS::RDS::DBInstance" {
			target = lid
		}
	}
	if target == "" {
		return fmt.Errorf("TargetId %v names no database instance of this stack", p["TargetId"])
	}
	c := secretsmanager.NewFromConfig(d.Cfg)
	secretID := str(p["SecretId"])
	cur, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return err
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(cur.SecretString)), &fields); err != nil {
		return errors.New("the secret's value is not a JSON object: a target attachment adds keys to it")
	}
	port, _ := strconv.Atoi(str(st.attrs[target]["Endpoint.Port"]))
	fields["engine"] = st.attrs[target]["engine"]
	fields["host"] = st.attrs[target]["Endpoint.Address"]
	fields["port"] = port
	fields["dbInstanceIdentifier"] = st.physical[target]
	b, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	if _, err := c.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(secretID), SecretString: aws.String(string(b))}); err != nil {
		return err
	}
	set(aws.ToString(cur.ARN), nil)
	d.progress("secret %s attached to %s", aws.ToString(cur.Name), st.physical[target])
	return nil
}

// rotationSchedule turns rotation on with RotateSecret, as AWS::SecretsManager::RotationSchedule
// does: RotateImmediatelyOnUpdate (true unless set) says whether the first rotation runs now or
// only tests the function (its testSecret step). Secrets Manager refuses a function whose policy
// does not let it invoke the function. Ref is the secret's ARN.
func (d *Deployer) rotationSchedule(ctx context.Context, st *Stack, id string, p map[string]any, set func(string, map[string]any)) error {
	if p["HostedRotationLambda"] != nil {
		return errors.New("HostedRotationLambda is not emulated: name the rotation function with RotationLambdaARN")
	}
	in := &secretsmanager.RotateSecretInput{SecretId: aws.String(str(p["SecretId"])), RotateImmediately: aws.Bool(str(p["RotateImmediatelyOnUpdate"]) != "false")}
	if fn := str(p["RotationLambdaARN"]); fn != "" {
		in.RotationLambdaARN = aws.String(fn)
	}
	if r, ok := p["RotationRules"].(map[string]any); ok {
		in.RotationRules = &smtypes.RotationRulesType{}
		if v := str(r["ScheduleExpression"]); v != "" {
			in.RotationRules.ScheduleExpression = aws.String(v)
		}
		if v := str(r["Duration"]); v != "" {
			in.RotationRules.Duration = aws.String(v)
		}
		if v, ok := r["AutomaticallyAfterDays"]; ok {
			n, err := strconv.ParseInt(str(v), 10, 64)
			if err != nil {
				return fmt.Errorf("RotationRules.AutomaticallyAfterDays %v: not a number", v)
			}
			in.RotationRules.AutomaticallyAfterDays = aws.Int64(n)
		}
	}
	out, err := secretsmanager.NewFromConfig(d.Cfg).RotateSecret(ctx, in)
	if err != nil {
		return err
	}
	set(aws.ToString(out.ARN), nil)
	how := "rotating now"
	if !aws.ToBool(in.RotateImmediately) {
		how = "testing the function"
	}
	d.progress("rotation schedule for %s (%s)", aws.ToString(out.Name), how)
	return nil
}
