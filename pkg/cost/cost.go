// Package cost estimates what the synthesized stacks will cost by the hour before they are
// deployed: it reads each stack's CloudFormation template in a cloud assembly (cdk.out), counts
// what is billed per hour (HSMs by type, EC2 and RDS instances, NAT gateways, interface endpoints
// per zone, public IPv4 addresses) and prices it from the table in prices.go, for the stack's
// region. `make synth` and `make deploy` print it (`strongroom cost`).
//
// It counts only hourly charges: data processed, storage, requests, KMS keys, alarms and
// dashboards are left out (the README's "Costs" names them). An item whose type or region the
// table does not know is listed with "no price known" and left out of the total, which is then
// marked as a lower bound, rather than priced from another region.
package cost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Line is one kind of billed thing in a stack.
type Line struct {
	Item  string
	Count int
	// Price is the unit price; Known is false when the table has none for the item and region.
	Price Price
	Known bool
	// Note says what the count came from when it is not plain (an adopted cluster, Multi-AZ).
	Note string
}

// USDPerHour is the line's hourly cost (0 when its price is not known).
func (l Line) USDPerHour() float64 { return float64(l.Count) * l.Price.USDPerHour }

// Stack is the estimate of one stack.
type Stack struct {
	Name   string
	Region string
	// RegionAssumed is true when the stack names no region (environment-agnostic) and Region is
	// the one the caller assumed.
	RegionAssumed bool
	Lines         []Line
}

// USDPerHour is the sum of the lines whose price is known.
func (s Stack) USDPerHour() float64 {
	var sum float64
	for _, l := range s.Lines {
		sum += l.USDPerHour()
	}
	return sum
}

// USDPerMonth is USDPerHour for HoursPerMonth hours.
func (s Stack) USDPerMonth() float64 { return s.USDPerHour() * HoursPerMonth }

// Complete reports whether every line has a known price, so the totals are not a lower bound.
func (s Stack) Complete() bool {
	for _, l := range s.Lines {
		if !l.Known {
			return false
		}
	}
	return true
}

// Template estimates one template (its decoded JSON) in region.
func Template(name, region string, tmpl map[string]any) Stack {
	s := Stack{Name: name, Region: region}
	counts := map[[2]string]int{}
	var order [][2]string
	add := func(item, note string, n int) {
		if n <= 0 {
			return
		}
		k := [2]string{item, note}
		if _, ok := counts[k]; !ok {
			order = append(order, k)
		}
		counts[k] += n
	}
	resources, _ := tmpl["Resources"].(map[string]any)
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r, _ := resources[id].(map[string]any)
		typ, _ := r["Type"].(string)
		props, _ := r["Properties"].(map[string]any)
		switch typ {
		case "Custom::CloudHsmCluster":
			// The resource's defaults (pkg/hsmcluster/spec.go): two HSMs of hsm2m.medium.
			n, hsmType := 2, "hsm2m.medium"
			if v, ok := number(props["HsmCount"]); ok {
				n = v
			}
			if v, ok := props["HsmType"].(string); ok && v != "" {
				hsmType = v
			}
			note := ""
			if id, ok := props["ClusterId"].(string); ok && id != "" {
				note = "adopted cluster " + id + ", scaled to this count"
			}
			add(ItemHSMPrefix+hsmType, note, n)
		case "AWS::EC2::Instance":
			if t, ok := props["InstanceType"].(string); ok {
				add(ItemEC2Prefix+t, "", 1)
			}
		case "AWS::RDS::DBInstance":
			class, _ := props["DBInstanceClass"].(string)
			engine, _ := props["Engine"].(string)
			if engine != "mariadb" {
				add("RDS "+engine+" instance "+class, "", 1)
				break
			}
			if multi, _ := props["MultiAZ"].(bool); multi || props["MultiAZ"] == "true" {
				add(ItemRDSMariaDBPrefix+class, "Multi-AZ: the standby is billed as a second instance", 2)
			} else {
				add(ItemRDSMariaDBPrefix+class, "", 1)
			}
		case "AWS::EC2::NatGateway":
			add(ItemNATGateway, "", 1)
		case "AWS::EC2::EIP":
			add(ItemPublicIPv4, "", 1)
		case "AWS::EC2::VPCEndpoint":
			if t, _ := props["VpcEndpointType"].(string); t == "Interface" {
				subnets, _ := props["SubnetIds"].([]any)
				add(ItemInterfaceEndpoint, "", len(subnets))
			}
		}
	}
	for _, k := range order {
		l := Line{Item: k[0], Note: k[1], Count: counts[k]}
		l.Price, l.Known = Prices[k[0]][region]
		s.Lines = append(s.Lines, l)
	}
	return s
}

// number reads a count as a template carries it: a number, or its text.
func number(v any) (int, bool) {
	switch t := v.(type) {
	case float64:
		return int(t), true
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(t))
		return n, err == nil
	}
	return 0, false
}

// Assembly estimates the stacks of the cloud assembly in dir (cdk.out): each stack in the
// manifest, in its own region, or in assumeRegion when it names none. only, when not empty,
// limits the estimate to those stack names.
func Assembly(dir, assumeRegion string, only []string) ([]Stack, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("read the cloud assembly's manifest (run make synth first): %w", err)
	}
	var m struct {
		Artifacts map[string]struct {
			Type        string `json:"type"`
			Environment string `json:"environment"`
			Properties  struct {
				TemplateFile string `json:"templateFile"`
				StackName    string `json:"stackName"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	var out []Stack
	found := map[string]bool{}
	for id, a := range m.Artifacts {
		if a.Type != "aws:cloudformation:stack" || (len(want) > 0 && !want[id]) {
			continue
		}
		found[id] = true
		tb, err := os.ReadFile(filepath.Join(dir, a.Properties.TemplateFile))
		if err != nil {
			return nil, fmt.Errorf("stack %s: %w", id, err)
		}
		var tmpl map[string]any
		if err := json.Unmarshal(tb, &tmpl); err != nil {
			return nil, fmt.Errorf("stack %s: parse %s: %w", id, a.Properties.TemplateFile, err)
		}
		// aws://ACCOUNT/REGION; CDK writes unknown-region for an environment-agnostic stack.
		region, assumed := a.Environment[strings.LastIndexByte(a.Environment, '/')+1:], false
		if region == "" || region == "unknown-region" {
			region, assumed = assumeRegion, true
		}
		st := Template(id, region, tmpl)
		st.RegionAssumed = assumed
		out = append(out, st)
	}
	var missing []string
	for n := range want {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("no stack %s in %s; name stacks the app declares", strings.Join(missing, ", "), dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Format renders the estimates: per stack its hourly and monthly totals, then each line, the
// dearest first.
func Format(stacks []Stack) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cost of what each stack creates, hourly charges only, on-demand prices of %s (pkg/cost/prices.go); data, storage, requests, keys and alarms come on top (README, \"Costs\"):\n", PricesTaken)
	for _, s := range stacks {
		if s.RegionAssumed {
			fmt.Fprintf(&b, "  (stacks marked \"assumed\" name no region and are priced in the one given; set strongroom:region, or AWS_REGION for make)\n")
			break
		}
	}
	for _, s := range stacks {
		region := s.Region
		if s.RegionAssumed {
			region += ", assumed"
		}
		total := fmt.Sprintf("%s USD/h, %s USD/month", usd(s.USDPerHour()), usd(s.USDPerMonth()))
		switch {
		case len(s.Lines) == 0:
			total = "nothing billed by the hour"
		case s.USDPerHour() == 0 && !s.Complete():
			total = "no price known for what it creates (below): total not known"
		case !s.Complete():
			total = "at least " + total + " (some prices not known, below)"
		}
		fmt.Fprintf(&b, "  %s (%s): %s\n", s.Name, region, total)
		lines := append([]Line(nil), s.Lines...)
		sort.SliceStable(lines, func(i, j int) bool { return lines[i].USDPerHour() > lines[j].USDPerHour() })
		for _, l := range lines {
			what := fmt.Sprintf("%d x %s", l.Count, l.Item)
			if l.Note != "" {
				what += " (" + l.Note + ")"
			}
			if !l.Known {
				fmt.Fprintf(&b, "    %-48s no price known for %s: see the pricing page, or add it to pkg/cost/prices.go\n", what, s.Region)
				continue
			}
			fmt.Fprintf(&b, "    %-48s %s USD/h (%s each)\n", what, usd(l.USDPerHour()), usd(l.Price.USDPerHour))
		}
	}
	return b.String()
}

// usd writes an amount with the precision its size needs: hourly prices of a cent or less keep
// four decimals, totals two, with thousands separated.
func usd(v float64) string {
	if v != 0 && v < 1 {
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	whole, frac, _ := strings.Cut(s, ".")
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	return whole + "." + frac
}
