package dbconfig

import "fmt"

// RDS for MariaDB's default max_connections is {DBInstanceClassMemory/12582880} (AWS RDS User
// Guide, "Quotas and constraints for Amazon RDS", "Maximum number of database connections").
// DBInstanceClassMemory is the class's memory in bytes minus what RDS reserves for the operating
// system and its own management processes (same guide, "Specifying DB parameters", "DB parameter
// formula variables"). AWS does not publish that reservation: the guide says only that "the exact
// value depends on a combination of factors" and gives one example, a 16 GiB class at "around
// 1,300" connections where the whole 16 GiB would give 1,365 (about 5% reserved). The share is
// larger on small classes, where the operating system's part is most of it.
//
// The stack cannot read the instance's max_connections at synthesis, so EstimatedMaxConnections
// counts on UsableMemoryNumerator/UsableMemoryDenominator of the class's memory: under the real
// value on every class, so the connections alarm (80% of the estimate) fires early rather than
// never. KeyMaxConnections gives the instance's real value for an exact threshold.
const (
	MaxConnectionsDivisor   = 12582880
	UsableMemoryNumerator   = 3
	UsableMemoryDenominator = 4
)

// MariaDB's range for max_connections (MariaDB Server documentation, "max_connections").
const (
	MinMaxConnections = 10
	MaxMaxConnections = 100000
)

// classMemoryGiB is the memory, in GiB, of the RDS for MariaDB instance classes (without "db."),
// from the AWS RDS User Guide, "Hardware specifications for DB instance classes". A class missing
// here fails synthesis unless KeyMaxConnections is set (Read).
var classMemoryGiB = map[string]int{
	"t3.micro": 1, "t3.small": 2, "t3.medium": 4, "t3.large": 8, "t3.xlarge": 16, "t3.2xlarge": 32,
	"t4g.micro": 1, "t4g.small": 2, "t4g.medium": 4, "t4g.large": 8, "t4g.xlarge": 16, "t4g.2xlarge": 32,

	"m5.large": 8, "m5.xlarge": 16, "m5.2xlarge": 32, "m5.4xlarge": 64, "m5.8xlarge": 128, "m5.12xlarge": 192, "m5.16xlarge": 256, "m5.24xlarge": 384,
	"m6g.large": 8, "m6g.xlarge": 16, "m6g.2xlarge": 32, "m6g.4xlarge": 64, "m6g.8xlarge": 128, "m6g.12xlarge": 192, "m6g.16xlarge": 256,
	"m6i.large": 8, "m6i.xlarge": 16, "m6i.2xlarge": 32, "m6i.4xlarge": 64, "m6i.8xlarge": 128, "m6i.12xlarge": 192, "m6i.16xlarge": 256, "m6i.24xlarge": 384, "m6i.32xlarge": 512,
	"m7g.large": 8, "m7g.xlarge": 16, "m7g.2xlarge": 32, "m7g.4xlarge": 64, "m7g.8xlarge": 128, "m7g.12xlarge": 192, "m7g.16xlarge": 256,

	"r5.large": 16, "r5.xlarge": 32, "r5.2xlarge": 64, "r5.4xlarge": 128, "r5.8xlarge": 256, "r5.12xlarge": 384, "r5.16xlarge": 512, "r5.24xlarge": 768,
	"r6g.large": 16, "r6g.xlarge": 32, "r6g.2xlarge": 64, "r6g.4xlarge": 128, "r6g.8xlarge": 256, "r6g.12xlarge": 384, "r6g.16xlarge": 512,
	"r6i.large": 16, "r6i.xlarge": 32, "r6i.2xlarge": 64, "r6i.4xlarge": 128, "r6i.8xlarge": 256, "r6i.12xlarge": 384, "r6i.16xlarge": 512, "r6i.24xlarge": 768, "r6i.32xlarge": 1024,
	"r7g.large": 16, "r7g.xlarge": 32, "r7g.2xlarge": 64, "r7g.4xlarge": 128, "r7g.8xlarge": 256, "r7g.12xlarge": 384, "r7g.16xlarge": 512,
}

// ClassMemoryGiB is the memory of an instance class (without "db."); ok is false for a class the
// table does not hold.
func ClassMemoryGiB(class string) (gib int, ok bool) {
	gib, ok = classMemoryGiB[class]
	return gib, ok
}

// EstimatedMaxConnections is the default max_connections of an instance class, estimated from its
// memory as the comment on MaxConnectionsDivisor explains; ok is false for a class the table does
// not hold. t4g.micro (1 GiB): 64.
func EstimatedMaxConnections(class string) (n int, ok bool) {
	gib, ok := classMemoryGiB[class]
	if !ok {
		return 0, false
	}
	return int(int64(gib) << 30 * UsableMemoryNumerator / UsableMemoryDenominator / MaxConnectionsDivisor), true
}

// readMaxConnections sets MaxConnections from KeyMaxConnections, or else from the instance class's
// estimate; c.InstanceType must already be read.
func (c *Config) readMaxConnections(ctx Lookup) error {
	n, ok, err := integer(ctx, KeyMaxConnections)
	if err != nil {
		return err
	}
	if ok {
		if n < MinMaxConnections || n > MaxMaxConnections {
			return fmt.Errorf("context %s: %d is outside MariaDB's %d-%d; set the instance's max_connections (SHOW GLOBAL VARIABLES LIKE 'max_connections')", KeyMaxConnections, n, MinMaxConnections, MaxMaxConnections)
		}
		c.MaxConnections, c.MaxConnectionsFromContext = n, true
		return nil
	}
	if c.MaxConnections, ok = EstimatedMaxConnections(c.InstanceType); !ok {
		return fmt.Errorf("context %s: Strongroom does not know the memory of instance class %s (infra/database/dbconfig/maxconnections.go), "+
			"so it cannot set the connections alarm's threshold; set %s to the instance's max_connections "+
			"(SHOW GLOBAL VARIABLES LIKE 'max_connections' once it runs, or {DBInstanceClassMemory/%d} of the class), or choose a class such as t4g.small or m7g.large",
			KeyInstanceType, c.InstanceType, KeyMaxConnections, MaxConnectionsDivisor)
	}
	return nil
}
