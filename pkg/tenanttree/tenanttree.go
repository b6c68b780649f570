// Package tenanttree is the one home of the rule that names nested tenants. A Tenant application
// makes a child tenant namespace named from its own name and namespace, as the platform's tenant
// chart names it; the server reports that name in the Tenant's status.namespace and refuses a
// Tenant whose namespace would leave its parent's tree.
package tenanttree

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TenantKind is the application kind whose objects are tenants: each one's release makes a child
// tenant namespace (Cozystack's ApplicationDefinition "tenant" defines it).
const TenantKind = "Tenant"

// RootNamespace is the platform's root tenant namespace: its children drop its name, so tenant
// foo made there lives in tenant-foo rather than tenant-root-foo.
const RootNamespace = "tenant-root"

// rootChildPrefix names the children of RootNamespace.
const rootChildPrefix = "tenant-"

// ChildNamespace is the namespace the Tenant called name in namespace parent makes: tenant-<name>
// in the root namespace, <parent>-<name> anywhere else. The root tenant itself (root in
// tenant-root) lives in the root namespace.
func ChildNamespace(parent, name string) string {
	if parent == RootNamespace {
		if rootChildPrefix+name == RootNamespace {
			return RootNamespace
		}
		return rootChildPrefix + name
	}
	return parent + "-" + name
}

// ValidateName refuses a Tenant name whose namespace would not be a namespace, or could be
// another tenant's. Names hold no '-' (as the platform's tenant chart requires): a child's
// namespace then starts with its parent's and no two tenants anywhere compute the same one, so
// a tenant makes tenants only inside its own tree.
func ValidateName(path *field.Path, parent, name string) field.ErrorList {
	if name == "" {
		return nil
	}
	if strings.Contains(name, "-") {
		return field.ErrorList{field.Invalid(path, name,
			"a Tenant's name may not contain '-': its namespace is named <parent namespace>-<name>, and a '-' would let it take the namespace of another tenant's child")}
	}
	child := ChildNamespace(parent, name)
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(child) {
		errs = append(errs, field.Invalid(path, name, fmt.Sprintf("the Tenant's namespace %q would not be a valid namespace name: %s", child, msg)))
	}
	return errs
}
