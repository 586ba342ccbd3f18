// Package hsmcluster holds the steps of the Custom::CloudHsmCluster workflows
// (statemachines/cluster-*.asl.json, wired in pkg/resourcedef/cluster.go), one file per
// lambdas/cluster-<step>: find-or-create the cluster, describe it for the state machine's polling
// loops, add and remove HSMs, sign the cluster CSR with the customer CA, initialize, store the
// admin password, activate through SSM, and delete.
//
// Every step is idempotent: it looks at the cluster as it is before acting, so a Lambda retry or a
// crash after a side effect converges instead of acting twice (a cluster is found again by the
// tag carrying the CloudFormation request id; HSMs are counted, not assumed; a password is stored
// before it is used and never overwritten). Steps never wait: the state machine polls Describe.
// Payloads carry ids and secret ARNs only; certificates are public and travel as PEM.
package hsmcluster
