package customresource_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/strongroom/strongroom/pkg/customresource"
)

// PropertyErrors collects every problem of one resource's properties; its text is the FAILED
// reason, naming each property, and errors.Is(err, ErrInvalidProperties) holds through wrapping.
func TestPropertyErrors(t *testing.T) {
	var none customresource.PropertyErrors
	if err := none.Err(); err != nil {
		t.Fatalf("no problems: Err() = %v", err)
	}

	cases := []struct {
		name string
		add  func(*customresource.PropertyErrors)
		want string
	}{
		{"one", func(es *customresource.PropertyErrors) {
			es.Add("HsmCount", "must be between 1 and %d, got %d", 28, 40)
		},
			"invalid Custom::CloudHsmCluster properties: HsmCount: must be between 1 and 28, got 40"},
		{"several in order", func(es *customresource.PropertyErrors) {
			es.Add("SubnetIds[1]", "%q is not a subnet id", "subnet-zz")
			es.Add("Mode", "must be FIPS or NON_FIPS")
			es.Add("Tags.aws:x", "%s", "tag keys may not start with aws:")
		}, `invalid Custom::CloudHsmCluster properties: SubnetIds[1]: "subnet-zz" is not a subnet id; Mode: must be FIPS or NON_FIPS; Tags.aws:x: tag keys may not start with aws:`},
		{"a percent sign in a value is not a verb", func(es *customresource.PropertyErrors) { es.Add("Name", "%s", "100%") },
			"invalid Custom::CloudHsmCluster properties: Name: 100%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			es := customresource.PropertyErrors{ResourceType: "Custom::CloudHsmCluster"}
			tc.add(&es)
			err := es.Err()
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Error() = %v\nwant      %s", err, tc.want)
			}
			wrapped := fmt.Errorf("validate: %w", err)
			if !errors.Is(err, customresource.ErrInvalidProperties) || !errors.Is(wrapped, customresource.ErrInvalidProperties) {
				t.Fatal("errors.Is(ErrInvalidProperties) is false")
			}
			if errors.Is(err, customresource.ErrDataTooLarge) || errors.Is(err, errors.New(customresource.ErrInvalidProperties.Error())) {
				t.Fatal("errors.Is matches an unrelated error")
			}
			var got *customresource.PropertyErrors
			if !errors.As(wrapped, &got) || got != &es || len(got.List) != len(es.List) {
				t.Fatal("errors.As does not recover the collection")
			}
			first := got.List[0]
			if first.Error() != first.Property+": "+first.Msg {
				t.Fatalf("PropertyError.Error() = %q", first.Error())
			}
		})
	}
}
