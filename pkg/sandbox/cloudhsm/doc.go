// Package cloudhsm is the sandbox's AWS CloudHSM (API version 2017-04-28, "cloudhsmv2"), spoken
// over JSON 1.1 with X-Amz-Target BaldrApiService.<Operation>.
//
// Operations: CreateCluster, DescribeClusters (filters clusterIds, states, vpcIds; MaxResults
// 1-25 with NextToken), CreateHsm, DeleteHsm (by HsmId, EniId or EniIp), DeleteCluster,
// InitializeCluster, DescribeBackups (filters backupIds, clusterIds, states, sourceBackupIds,
// neverExpires), TagResource, UntagResource, ListTags.
//
// State is real and moves on the sandbox clock (see Durations for the defaults and why):
//
//	cluster  CREATE_IN_PROGRESS -> UNINITIALIZED -> INITIALIZE_IN_PROGRESS -> INITIALIZED -> ACTIVE
//	         ACTIVE/...         -> DELETE_IN_PROGRESS -> DELETED (listed for DeletedRetention)
//	restore  CREATE_IN_PROGRESS -> ACTIVE, with no HSMs and the backup's users and certificates
//	hsm      CREATE_IN_PROGRESS -> ACTIVE -> DELETE_IN_PROGRESS -> (gone from the list)
//
// The first HSM to become ACTIVE in an UNINITIALIZED cluster makes the cluster's RSA 2048 key and
// a real PKCS#10 CSR (Certificates.ClusterCsr), with an HSM certificate chain beside it.
// InitializeCluster checks with crypto/x509 that the signed certificate carries the CSR's public
// key and chains to the trust anchor, and that the trust anchor is a self-signed CA. Activation is
// not an API call: the emulated client instance (package ssm) runs cloudhsm-cli's `cluster
// activate`, which reaches this package through Activate. HSM users (the unactivated admin,
// admins, crypto users such as kmsuser) are tracked per cluster with salted PBKDF2 password
// hashes; the Go API is how the SSM emulator's cloudhsm-cli (ConnectClient, Activate, CreateUser,
// DeleteUser, ChangePassword, Login, Users) and KMS (Cluster, OpenSession, CloseSession,
// SetOwnPassword, AdjustKeys) act on them. Passwords never appear in errors or state. InjectDegraded, ForceState and DeleteHsmOutOfBand are test
// hooks for the states AWS does not document triggers for.
//
// Known differences from AWS:
//   - the HSM certificate chain is issued by sandbox-made roots, not by AWS's and the
//     manufacturer's; HsmCertificate, AwsHardwareCertificate and ManufacturerHardwareCertificate
//     chain to each other as the fields suggest, but no real root will accept them;
//   - durations are chosen, not measured: AWS publishes only "~10 to ~20 minutes" end to end;
//   - message texts are the sandbox's own except the observed second-CreateHsm message;
//   - no ModifyCluster, backups copy/restore/delete operations, resource policies, or quotas on
//     clusters per account; the cluster's SecurityGroup gets AWS's rules (TCP 2223-2225 in from
//     and out to itself), which the sandbox's EC2 enforces on the client instance's connections
//     (package hsmclient), not on KMS's;
//   - NetworkType DUALSTACK needs an IPv6 block in every subnet (the sandbox's EC2 gives one with
//     AddSubnetIPv6) and gives each HSM an IPv6 address from it (EniIpV6); the refusal's text is
//     the sandbox's own; CreateHsm's IpAddress is refused; backups are taken at activation and whenever an HSM is
//     added to or removed from an ACTIVE cluster, not daily; there are no backup copies, so the
//     sourceBackupIds filter matches nothing;
//   - adding or removing an HSM in an ACTIVE cluster does not move the cluster through
//     UPDATE_IN_PROGRESS (AWS documents no trigger for that state; ForceState reaches it).
package cloudhsm
