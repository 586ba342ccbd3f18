package core

// Place is where an emulated service pretends to run: the Region and account its ARNs and owner
// ids name. Services embed it so that the defaults and the WithRegion and WithAccount options are
// written once; the fields stay unexported so a running service's place cannot change under it.
type Place struct {
	region, account string
}

// Where every service runs unless an option says otherwise (pkg/sandbox/sandbox.go passes the
// server's own).
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "123456789012"
)

// DefaultPlace is DefaultRegion and DefaultAccount.
var DefaultPlace = Place{region: DefaultRegion, account: DefaultAccount}

// Region is the service's Region.
func (p *Place) Region() string { return p.region }

// Account is the service's account id.
func (p *Place) Account() string { return p.account }

func (p *Place) place() *Place { return p }

// placed is a service type that embeds Place.
type placed[S any] interface {
	*S
	place() *Place
}

// WithRegion returns an option for a service S that embeds Place, setting its Region.
func WithRegion[S any, P placed[S]](region string) func(*S) {
	return func(s *S) { P(s).place().region = region }
}

// WithAccount returns an option for a service S that embeds Place, setting its account id.
func WithAccount[S any, P placed[S]](account string) func(*S) {
	return func(s *S) { P(s).place().account = account }
}

// Configure applies opts to s in order and returns s. Services' New functions call it once the
// defaults are set, before anything that depends on the options.
func Configure[S any, O ~func(*S)](s *S, opts []O) *S {
	for _, o := range opts {
		o(s)
	}
	return s
}
