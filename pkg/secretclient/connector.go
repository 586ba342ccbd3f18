package secretclient

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/go-sql-driver/mysql"

	"github.com/strongroom/strongroom/pkg/dbsecret"
)

// Connector is a database/sql connector that logs in with the current credentials of a secret on
// every new connection, so a pool picks up rotated credentials as it opens connections; a refused
// login is recovered as Cache.Do does. Connections already open stay open through a rotation
// (MariaDB does not end sessions when a password changes).
type Connector struct {
	cache  *Cache
	id     string
	tls    dbsecret.TLS
	driver mysql.MySQLDriver
}

var _ driver.Connector = (*Connector)(nil)

// NewConnector returns a connector for the database secret id.
func NewConnector(cache *Cache, id string, tls dbsecret.TLS) *Connector {
	return &Connector{cache: cache, id: id, tls: tls}
}

// OpenDB returns a pool over NewConnector(cache, id, tls).
func OpenDB(cache *Cache, id string, tls dbsecret.TLS) *sql.DB {
	return sql.OpenDB(NewConnector(cache, id, tls))
}

// Connect implements driver.Connector.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	err := c.cache.Do(ctx, c.id, func(ctx context.Context, s *dbsecret.Secret) error {
		mc, err := mysql.NewConnector(s.Config(c.tls))
		if err != nil {
			return err
		}
		conn, err = mc.Connect(ctx)
		return err
	})
	return conn, err
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.driver }
