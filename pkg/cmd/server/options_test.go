package server

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The tenant roles the server keeps follow the flags: both by default, none when emptied.
func TestTenantRoleFlags(t *testing.T) {
	o := NewOptions()
	roles := o.tenantRoles()
	if len(roles) != 2 || roles[0].Name != "cozy-apps-view" || roles[1].Name != "cozy-apps-list-across-namespaces" {
		t.Fatalf("default roles: %+v", roles)
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--view-cluster-role=", "--list-across-namespaces-cluster-role="}); err != nil {
		t.Fatal(err)
	}
	if roles := o.tenantRoles(); len(roles) != 0 {
		t.Errorf("emptied flags still keep %+v", roles)
	}
}

// Every invalid flag is reported at once.
func TestValidateReportsEveryInvalidFlag(t *testing.T) {
	o := NewOptions()
	o.EventLogSize, o.CrossNamespaceRefresh, o.BookmarkInterval = 0, 0, 0
	err := o.Validate()
	for _, want := range []string{"--watch-event-log-size", "--cross-namespace-refresh", "--watch-bookmark-interval"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s: %v", want, err)
		}
	}
}
