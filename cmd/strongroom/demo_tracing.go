package main

import (
	"fmt"
	"sort"
	"strings"
)

// tracesAndInterfaces prints, per deployed stack, how many segments X-Ray received from each of its
// traced functions and state machines (each sent with the resource's role, judged by IAM: see
// pkg/sandbox/tracing.go), in one line, then the network interfaces Lambda made with each VPC
// function's role when the stack was deployed (Sandbox.AttachFunctionVPC).
func (d *demo) tracesAndInterfaces() {
	received := map[string]int{}
	for _, s := range d.sb.XRay.Segments() {
		received[s.Name]++
	}
	d.p.heading("X-Ray and VPC network interfaces")
	seen := map[string]bool{}
	for _, st := range d.stacks {
		if seen[st.Name] {
			continue // a stack deployed again (the mutation runs') counts once
		}
		seen[st.Name] = true
		var counts []string
		total := 0
		add := func(logical, segmentName string) {
			if n := received[segmentName]; n > 0 {
				counts = append(counts, fmt.Sprintf("%s %d", logical, n))
				total += n
			}
		}
		for logical, fn := range st.Functions {
			add(logical, fn)
		}
		for logical, arn := range st.Machines {
			if name, _, err := d.sb.StepFunctions.Machine(arn); err == nil {
				add(logical, name)
			}
		}
		sort.Strings(counts)
		d.p.line("%s: X-Ray received %d segments: %s", st.Name, total, strings.Join(counts, ", "))
		logicals := make([]string, 0, len(st.Functions))
		for logical := range st.Functions {
			logicals = append(logicals, logical)
		}
		sort.Strings(logicals)
		for _, logical := range logicals {
			var enis []string
			for _, n := range d.sb.FunctionENIs(st.Functions[logical]) {
				enis = append(enis, fmt.Sprintf("%s (%s, %s)", n.ID, n.SubnetID, n.IP))
			}
			if len(enis) > 0 {
				d.p.line("%s: %s in its VPC: network interfaces %s, made with its role", st.Name, logical, strings.Join(enis, ", "))
			}
		}
	}
}
