package authz

import (
	"fmt"
	"strings"
)

// Special is an additional permission AWS documents for an operation beyond its own action: another
// service's action the caller needs, or a call the service then makes as its service principal.
type Special struct {
	Service, Operation string
	// Source names the AWS documentation page and section that requires it.
	Source string
	// Needs returns the additional needs for the request (none when the request does not call for
	// them, such as a CreateSecret without a customer managed key).
	Needs func(e Env, r Request) ([]Need, error)
}

// Sources of the special cases, by AWS documentation page and section.
const (
	srcKeyStoreAccess   = "AWS KMS Developer Guide, Control access to your AWS CloudHSM key store (key store managers need cloudhsm:DescribeClusters)"
	srcKeyStoreSLR      = "AWS KMS Developer Guide, Authorizing AWS KMS to manage AWS CloudHSM and Amazon EC2 resources (iam:CreateServiceLinkedRole)"
	srcCreateKeyTags    = "AWS KMS API Reference, CreateKey, Required permissions (kms:TagResource to use Tags)"
	srcSecretCreate     = "AWS Secrets Manager API Reference, CreateSecret, Required permissions (TagResource for Tags; kms:GenerateDataKey and kms:Decrypt for a customer managed key)"
	srcSecretKey        = "AWS Secrets Manager User Guide, Secret encryption and decryption, Permissions for the KMS key"
	srcRotationInvoke   = "AWS Secrets Manager User Guide, Rotation by Lambda function, Permissions for rotation (the function's resource policy lets secretsmanager.amazonaws.com invoke it)"
	srcCloudHSMAdmin    = "AWS CloudHSM User Guide, Identity and access management, IAM administrators group (CloudHSM manages the cluster's security group and HSM interfaces with the caller's EC2 permissions)"
	srcCloudHSMOps      = "Service Authorization Reference, AWS CloudHSM, API operations table (CreateHsm authorizes cloudhsm:CreateHsm and the EC2 actions on the HSM's network interface and the cluster's security group)"
	srcCloudHSMSLR      = "AWS CloudHSM User Guide, Service-linked roles for AWS CloudHSM (iam:CreateServiceLinkedRole on the first cluster)"
	srcEventsPassRole   = "Amazon EventBridge User Guide, Using identity-based policies, iam:PassRole for a target's RoleArn"
	srcEventsDelivery   = "Amazon EventBridge User Guide, Using resource-based policies for Amazon EventBridge (Lambda and SNS targets)"
	srcStatesPassRole   = "AWS Step Functions Developer Guide, IAM permissions for creating a state machine (iam:PassRole)"
	srcSSMPassRole      = "AWS Systems Manager User Guide, Run Command notifications (iam:PassRole for ServiceRoleArn)"
	srcSNSTagOnCreate   = "Amazon SNS Developer Guide, Amazon SNS tags, tagging on creation (sns:CreateTopic and sns:TagResource)"
	srcSNSPublishKMS    = "Amazon SNS Developer Guide, Encryption at rest, Configuring AWS KMS permissions (publishers need kms:GenerateDataKey and kms:Decrypt)"
	srcSQSKMS           = "Amazon SQS Developer Guide, Key management, Configure KMS permissions for producers and consumers (producers need kms:GenerateDataKey and kms:Decrypt, consumers kms:Decrypt)"
	srcCloudHSMTags     = "Service Authorization Reference, AWS CloudHSM, API operations table (CreateCluster with TagList also authorizes cloudhsm:TagResource)"
	srcProfilePassRole  = "IAM User Guide, Use an IAM role to grant permissions to applications running on Amazon EC2 instances (iam:PassRole to add a role to an instance profile)"
	srcFlowLogPassRole  = "Amazon VPC User Guide, Publish flow logs to CloudWatch Logs, IAM role for publishing flow logs (users who create a flow log need iam:PassRole for its role)"
	srcGetCallerNoPerms = "AWS STS API Reference, GetCallerIdentity (no permissions are required)"
	srcS3KMS            = "Amazon S3 User Guide, Using server-side encryption with AWS KMS keys (SSE-KMS), permissions (kms:GenerateDataKey to upload, kms:Decrypt to download)"
)

// NoPermission lists the operations that need no IAM permission at all, with their source.
var NoPermission = map[[2]string]string{
	{"sts", "GetCallerIdentity"}: srcGetCallerNoPerms,
}

// viaService is the kms:ViaService value of a KMS call a service makes with its caller's
// permissions, such as Secrets Manager encrypting a secret.
func (e Env) viaService(service string) string {
	return fmt.Sprintf("%s.%s.amazonaws.com", service, e.Region)
}

// secretKeyNeeds are the KMS needs of Secrets Manager using key for secret on the caller's behalf.
func (e Env) secretKeyNeeds(key, secret string, actions ...string) ([]Need, error) {
	if key == "" {
		return nil, nil // aws/secretsmanager: its key policy grants the account's principals via the service
	}
	arn, ctx, err := e.kmsKey(key)
	if err != nil {
		return nil, err
	}
	ctx["kms:ViaService"] = []string{e.viaService("secretsmanager")}
	ctx["kms:EncryptionContext:SecretARN"] = []string{secret}
	ctx["kms:EncryptionContextKeys"] = []string{"SecretARN", "SecretVersionId"}
	var needs []Need
	for _, a := range actions {
		needs = append(needs, need(a, arn, ctx))
	}
	return needs, nil
}

// passRole is iam:PassRole of role to service, when the request names a role.
func passRole(role, service string) []Need {
	if role == "" {
		return nil
	}
	return []Need{need("iam:PassRole", role, map[string][]string{"iam:PassedToService": {service}})}
}

// serviceLinkedRole is the first-use creation of a service's service-linked role.
func (e Env) serviceLinkedRole(servicePrincipal, role string) Need {
	n := need("iam:CreateServiceLinkedRole",
		fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/%s/%s", e.Partition, e.Account, servicePrincipal, role),
		map[string][]string{"iam:AWSServiceName": {servicePrincipal}})
	n.Only = "when the service-linked role does not exist yet"
	n.ServiceLinkedRole = &ServiceLinkedRole{Principal: servicePrincipal, Name: role}
	return n
}

func describeClustersNeed(Env, Request) ([]Need, error) {
	return []Need{need("cloudhsm:DescribeClusters", "*", nil)}, nil
}

// Specials are every additional permission of every operation, in one place.
var Specials = []Special{
	{"s3", "PutObject", srcS3KMS, func(e Env, r Request) ([]Need, error) { return e.s3KMSNeeds(r, true, "kms:GenerateDataKey") }},
	{"s3", "GetObject", srcS3KMS, func(e Env, r Request) ([]Need, error) { return e.s3KMSNeeds(r, false, "kms:Decrypt") }},
	{"iam", "AddRoleToInstanceProfile", srcProfilePassRole, func(e Env, r Request) ([]Need, error) {
		name, err := r.queryRequired("RoleName")
		if err != nil {
			return nil, err
		}
		return passRole(e.roleARN(name), "ec2.amazonaws.com"), nil
	}},
	{"ec2", "CreateFlowLogs", srcFlowLogPassRole, func(_ Env, r Request) ([]Need, error) {
		return passRole(r.Query.Get("DeliverLogsPermissionArn"), "vpc-flow-logs.amazonaws.com"), nil
	}},
	{"kms", "CreateCustomKeyStore", srcKeyStoreAccess, describeClustersNeed},
	{"kms", "CreateCustomKeyStore", srcKeyStoreSLR, func(e Env, _ Request) ([]Need, error) {
		return []Need{e.serviceLinkedRole("cks.kms.amazonaws.com", "AWSServiceRoleForKeyManagementServiceCustomKeyStores")}, nil
	}},
	{"kms", "ConnectCustomKeyStore", srcKeyStoreAccess, describeClustersNeed},
	{"kms", "UpdateCustomKeyStore", srcKeyStoreAccess, func(e Env, r Request) ([]Need, error) {
		if r.str("CloudHsmClusterId") == "" {
			return nil, nil
		}
		return describeClustersNeed(e, r)
	}},
	{"kms", "CreateKey", srcCreateKeyTags, func(e Env, r Request) ([]Need, error) {
		ctx := map[string][]string{"kms:CallerAccount": {e.Account}}
		tags(r.JSON["Tags"], "TagKey", "TagValue", ctx)
		if len(ctx) == 1 {
			return nil, nil
		}
		// The new key's id is not known before the call.
		return []Need{need("kms:TagResource", e.arn("kms", "key/*"), ctx)}, nil
	}},

	{"secretsmanager", "CreateSecret", srcSecretCreate, func(e Env, r Request) ([]Need, error) {
		var needs []Need
		secret := e.newSecretARN(r.str("Name"))
		ctx := map[string][]string{"secretsmanager:SecretId": {secret}}
		tags(r.JSON["Tags"], "Key", "Value", ctx)
		if len(ctx) > 1 {
			needs = append(needs, need("secretsmanager:TagResource", secret, ctx))
		}
		if r.has("SecretString") || r.has("SecretBinary") {
			kms, err := e.secretKeyNeeds(r.str("KmsKeyId"), secret, "kms:GenerateDataKey", "kms:Decrypt")
			if err != nil {
				return nil, err
			}
			needs = append(needs, kms...)
		}
		return needs, nil
	}},
	{"secretsmanager", "GetSecretValue", srcSecretKey, func(e Env, r Request) ([]Need, error) {
		secret := e.secretARN(r.str("SecretId"))
		return e.secretKeyNeeds(e.lookup(SecretKMSKey, secret), secret, "kms:Decrypt")
	}},
	{"secretsmanager", "PutSecretValue", srcSecretKey, func(e Env, r Request) ([]Need, error) {
		secret := e.secretARN(r.str("SecretId"))
		return e.secretKeyNeeds(e.lookup(SecretKMSKey, secret), secret, "kms:GenerateDataKey")
	}},
	{"secretsmanager", "UpdateSecret", srcSecretKey, func(e Env, r Request) ([]Need, error) {
		secret := e.secretARN(r.str("SecretId"))
		if k := r.str("KmsKeyId"); k != "" {
			// A new key re-encrypts the current value: decrypt with the old, encrypt with the new.
			return e.secretKeyNeeds(k, secret, "kms:GenerateDataKey", "kms:Decrypt")
		}
		if r.has("SecretString") || r.has("SecretBinary") {
			return e.secretKeyNeeds(e.lookup(SecretKMSKey, secret), secret, "kms:GenerateDataKey")
		}
		return nil, nil
	}},
	{"secretsmanager", "RotateSecret", srcRotationInvoke, func(e Env, r Request) ([]Need, error) {
		fn := r.str("RotationLambdaARN")
		if fn == "" {
			return nil, nil // the secret's configured function: known to the sandbox, not the request
		}
		secret := e.secretARN(r.str("SecretId"))
		n := need("lambda:InvokeFunction", fn, map[string][]string{"aws:SourceArn": {secret}, "aws:SourceAccount": {e.Account}})
		n.Principal, n.Only = "secretsmanager.amazonaws.com", "on each rotation step Secrets Manager runs"
		return []Need{n}, nil
	}},

	{"cloudhsmv2", "CreateCluster", srcCloudHSMAdmin, func(e Env, r Request) ([]Need, error) {
		ctx := map[string][]string{"ec2:Region": {e.Region}}
		group := e.arn("ec2", "security-group/*") // the cluster's group, created by the call
		vpcARN := e.arn("ec2", "vpc/*")
		// The group is made in the subnets' VPC; calls on it carry that VPC as ec2:Vpc.
		if subnets := r.strs("SubnetIds"); len(subnets) > 0 {
			if vpc := e.lookup(SubnetVPC, subnets[0]); vpc != "" {
				vpcARN = e.arn("ec2", "vpc/"+vpc)
				ctx["ec2:Vpc"] = []string{vpcARN}
			}
		}
		return []Need{
			need("ec2:DescribeSubnets", "*", ctx),
			need("ec2:DescribeVpcs", "*", ctx),
			need("ec2:DescribeSecurityGroups", "*", ctx),
			need("ec2:CreateSecurityGroup", group, ctx),
			need("ec2:CreateSecurityGroup", vpcARN, ctx),
			need("ec2:AuthorizeSecurityGroupIngress", group, ctx),
			need("ec2:AuthorizeSecurityGroupEgress", group, ctx),
			need("ec2:RevokeSecurityGroupEgress", group, ctx),
		}, nil
	}},
	{"cloudhsmv2", "CreateCluster", srcCloudHSMTags, func(e Env, r Request) ([]Need, error) {
		ctx := map[string][]string{}
		tags(r.JSON["TagList"], "Key", "Value", ctx)
		if len(ctx) == 0 {
			return nil, nil
		}
		return one("cloudhsm:TagResource", e.arn("cloudhsm", "cluster/*"), ctx) // the new cluster's id is not known yet
	}},
	{"cloudhsmv2", "CreateCluster", srcCloudHSMSLR, func(e Env, _ Request) ([]Need, error) {
		return []Need{e.serviceLinkedRole("cloudhsm.amazonaws.com", "AWSServiceRoleForCloudHSM")}, nil
	}},
	{"cloudhsmv2", "DeleteCluster", srcCloudHSMAdmin, func(e Env, r Request) ([]Need, error) {
		ctx := map[string][]string{"ec2:Region": {e.Region}}
		// The cluster's group is in the cluster's VPC, which EC2 gives as ec2:Vpc.
		if vpc := e.lookup(ClusterVPC, r.str("ClusterId")); vpc != "" {
			ctx["ec2:Vpc"] = []string{e.arn("ec2", "vpc/"+vpc)}
		}
		return []Need{
			need("ec2:DescribeSecurityGroups", "*", ctx),
			need("ec2:DeleteSecurityGroup", e.arn("ec2", "security-group/*"), ctx),
		}, nil
	}},
	{"cloudhsmv2", "CreateHsm", srcCloudHSMOps, func(e Env, r Request) ([]Need, error) {
		ctx := map[string][]string{"ec2:Region": {e.Region}}
		group := e.arn("ec2", "security-group/*") // the cluster's group
		vpcARN := e.arn("ec2", "vpc/*")
		if vpc := e.lookup(ClusterVPC, r.str("ClusterId")); vpc != "" {
			vpcARN = e.arn("ec2", "vpc/"+vpc)
			ctx["ec2:Vpc"] = []string{vpcARN}
		}
		return []Need{
			need("ec2:DescribeSubnets", "*", ctx),
			need("ec2:DescribeNetworkInterfaces", "*", ctx),
			need("ec2:DescribeSecurityGroups", "*", ctx),
			need("ec2:CreateNetworkInterface", e.arn("ec2", "network-interface/*"), ctx),
			need("ec2:CreateNetworkInterface", e.arn("ec2", "subnet/*"), ctx),
			need("ec2:CreateNetworkInterface", group, ctx),
			need("ec2:DeleteNetworkInterface", e.arn("ec2", "network-interface/*"), ctx),
			need("ec2:CreateSecurityGroup", group, ctx),
			need("ec2:CreateSecurityGroup", vpcARN, ctx),
			need("ec2:AuthorizeSecurityGroupIngress", group, ctx),
			need("ec2:AuthorizeSecurityGroupEgress", group, ctx),
			need("ec2:RevokeSecurityGroupEgress", group, ctx),
		}, nil
	}},
	{"cloudhsmv2", "DeleteHsm", srcCloudHSMAdmin, func(e Env, _ Request) ([]Need, error) {
		ctx := map[string][]string{"ec2:Region": {e.Region}}
		return []Need{
			need("ec2:DescribeNetworkInterfaces", "*", ctx),
			need("ec2:DeleteNetworkInterface", e.arn("ec2", "network-interface/*"), ctx),
		}, nil
	}},

	{"events", "PutTargets", srcEventsPassRole, func(_ Env, r Request) ([]Need, error) {
		var needs []Need
		for _, t := range r.targets() {
			needs = append(needs, passRole(t.RoleArn, "events.amazonaws.com")...)
		}
		return needs, nil
	}},
	{"events", "PutTargets", srcEventsDelivery, func(e Env, r Request) ([]Need, error) {
		rule := e.ruleARN(r.str("Rule"), r.str("EventBusName"))
		var needs []Need
		for _, t := range r.targets() {
			if t.RoleArn != "" {
				continue // delivered with the passed role's permissions, not the target's policy
			}
			var action string
			switch {
			case hasService(t.Arn, "lambda"):
				action = "lambda:InvokeFunction"
			case hasService(t.Arn, "sns"):
				action = "sns:Publish"
			default:
				continue
			}
			n := need(action, t.Arn, map[string][]string{"aws:SourceArn": {rule}, "aws:SourceAccount": {e.Account}})
			n.Principal, n.Only = "events.amazonaws.com", "on each delivery of a matching event to the target"
			needs = append(needs, n)
		}
		return needs, nil
	}},
	{"states", "CreateStateMachine", srcStatesPassRole, func(_ Env, r Request) ([]Need, error) {
		return passRole(r.str("roleArn"), "states.amazonaws.com"), nil
	}},
	{"ssm", "SendCommand", srcSSMPassRole, func(_ Env, r Request) ([]Need, error) {
		return passRole(r.str("ServiceRoleArn"), "ssm.amazonaws.com"), nil
	}},
	{"sns", "CreateTopic", srcSNSTagOnCreate, func(e Env, r Request) ([]Need, error) {
		ctx := map[string][]string{}
		r.queryTags(ctx)
		if len(ctx) == 0 {
			return nil, nil
		}
		return []Need{need("sns:TagResource", e.arn("sns", r.Query.Get("Name")), ctx)}, nil
	}},
	{"sns", "Publish", srcSNSPublishKMS, func(e Env, r Request) ([]Need, error) {
		topic := r.Query.Get("TopicArn")
		if topic == "" {
			topic = r.Query.Get("TargetArn")
		}
		key := e.lookup(TopicKMSKey, topic)
		if key == "" {
			return nil, nil
		}
		arn, ctx, err := e.kmsKey(key)
		if err != nil {
			return nil, err
		}
		ctx["kms:ViaService"] = []string{e.viaService("sns")}
		return []Need{need("kms:GenerateDataKey", arn, ctx), need("kms:Decrypt", arn, ctx)}, nil
	}},
	{"sqs", "SendMessage", srcSQSKMS, queueKeyNeeds("kms:GenerateDataKey", "kms:Decrypt")},
	{"sqs", "ReceiveMessage", srcSQSKMS, queueKeyNeeds("kms:Decrypt")},
}

// queueKeyNeeds are the KMS actions SQS uses on an encrypted queue's customer managed key on the
// caller's behalf (kms:ViaService sqs.<region>.amazonaws.com); none for a queue without one.
func queueKeyNeeds(actions ...string) func(e Env, r Request) ([]Need, error) {
	return func(e Env, r Request) ([]Need, error) {
		queue, err := e.queueARN(r.strOf("QueueUrl"))
		if err != nil {
			return nil, err
		}
		key := e.lookup(QueueKMSKey, queue)
		if key == "" {
			return nil, nil
		}
		arn, ctx, err := e.kmsKey(key)
		if err != nil {
			return nil, err
		}
		ctx["kms:ViaService"] = []string{e.viaService("sqs")}
		var needs []Need
		for _, a := range actions {
			needs = append(needs, need(a, arn, ctx))
		}
		return needs, nil
	}
}

// hasService reports whether arn is an ARN of service.
func hasService(arn, service string) bool {
	parts := strings.SplitN(arn, ":", 4)
	return len(parts) == 4 && parts[0] == "arn" && parts[2] == service
}
