package cost

// PricesTaken is the date the prices below were read. AWS changes prices without notice: check
// the pages named in each price's Source before relying on a figure, and update the table (and
// this date) when they differ.
const PricesTaken = "2026-12-07"

// HoursPerMonth is the month AWS's pricing pages and calculator use: 730 hours (365 days x 24 / 12).
const HoursPerMonth = 730

// Price is the on-demand price of one unit of an Item for an hour, in USD.
type Price struct {
	USDPerHour float64
	// Source names the page the price was read from, and says so where the figure is less certain.
	Source string
}

// Items priced by the hour. Each is one unit of what a template creates.
const (
	ItemHSMPrefix         = "CloudHSM HSM "             // + the HSM type, for example hsm2m.medium
	ItemEC2Prefix         = "EC2 instance "             // + the instance type, Linux on-demand
	ItemRDSMariaDBPrefix  = "RDS for MariaDB instance " // + the class, Single-AZ (Multi-AZ counts two)
	ItemNATGateway        = "NAT gateway"
	ItemInterfaceEndpoint = "interface VPC endpoint, per zone"
	ItemPublicIPv4        = "public IPv4 address"
)

const (
	vpcPricing = "Amazon VPC pricing, https://aws.amazon.com/vpc/pricing/"
	ec2Pricing = "Amazon EC2 On-Demand pricing, Linux, https://aws.amazon.com/ec2/pricing/on-demand/"
	rdsPricing = "Amazon RDS for MariaDB pricing, On-Demand Single-AZ, https://aws.amazon.com/rds/mariadb/pricing/"
)

// Prices are the hourly prices known, by item and region. A region or type that is missing has
// no price known: Estimate says so rather than guess from another region, because prices differ
// by region (CloudHSM's by tens of cents an hour).
var Prices = map[string]map[string]Price{
	ItemHSMPrefix + "hsm2m.medium": {
		// Less certain than the others: read from an example on the KMS pricing page (two HSMs
		// for 744 hours) as a cost study of 2026-09-30 quoted it, not from the CloudHSM pricing
		// page itself, which lists every region and type (Source names both).
		"us-east-1": {1.60, "AWS KMS pricing page's custom key store example (2 x hsm2m.medium x 744 h = 2,380.80 USD, us-east-1); confirm on https://aws.amazon.com/cloudhsm/pricing/"},
	},
	ItemEC2Prefix + "t3.micro": {
		"us-east-1": {0.0104, ec2Pricing},
	},
	ItemRDSMariaDBPrefix + "db.t4g.micro": {
		"us-east-1": {0.016, rdsPricing},
	},
	ItemNATGateway: {
		// Plus 0.045 USD per GB processed, not counted here.
		"us-east-1": {0.045, vpcPricing},
	},
	ItemInterfaceEndpoint: {
		// Plus 0.01 USD per GB processed, not counted here.
		"us-east-1": {0.01, vpcPricing},
	},
	ItemPublicIPv4: {
		// Every public IPv4 address, in use or not, since 2024-02-01: a NAT gateway's Elastic IP too.
		"us-east-1": {0.005, vpcPricing},
	},
}
