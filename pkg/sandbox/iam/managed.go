package iam

// awsManaged are the AWS managed policies Strongroom's stacks attach, with the document of the
// version named, as AWS's managed policy reference publishes it. Attaching any other
// arn:aws:iam::aws:policy/... fails with NoSuchEntity, so a stack that starts to attach a new one
// fails its sandbox deploy until its document is added here.
var awsManaged = map[string]managedPolicy{
	// https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html (v2)
	"AmazonSSMManagedInstanceCore": {path: "/", version: "v2", document: `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["ssm:DescribeAssociation", "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument",
      "ssm:DescribeDocument", "ssm:GetManifest", "ssm:GetParameter", "ssm:GetParameters", "ssm:ListAssociations",
      "ssm:ListInstanceAssociations", "ssm:PutInventory", "ssm:PutComplianceItems", "ssm:PutConfigurePackageResult",
      "ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus", "ssm:UpdateInstanceInformation"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
      "ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply"], "Resource": "*"}
  ]
}`},
	// https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonRDSEnhancedMonitoringRole.html
	// (the RDS enhanced-monitoring role; RDS assumes it, no sandbox call uses it)
	"service-role/AmazonRDSEnhancedMonitoringRole": {path: "/service-role/", version: "v1", document: `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "EnableCreationAndManagementOfRDSCloudwatchLogGroups", "Effect": "Allow",
      "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"], "Resource": ["arn:aws:logs:*:*:log-group:RDS*"]},
    {"Sid": "EnableCreationAndManagementOfRDSCloudwatchLogStreams", "Effect": "Allow",
      "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
      "Resource": ["arn:aws:logs:*:*:log-group:RDS*:log-stream:*"]}
  ]
}`},
}

type managedPolicy struct {
	path, version, document string
}
