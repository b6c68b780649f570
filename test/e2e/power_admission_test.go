package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	appsv1alpha1 "github.com/cozystack/apps-apiserver/apis/apps/v1alpha1"
)

// TestPowerChangesPassAdmission: virtualmachines/start and /stop change the machine as a PATCH of
// it would — an admission policy on UPDATE of virtualmachines sees the change and can refuse it
// (as it refuses the same PATCH), and managedFields record the client's manager for
// spec.runStrategy — while the user needs only the subresource's right.
func TestPowerChangesPassAdmission(t *testing.T) {
	ctx := context.Background()
	ns := newTenant(t)
	operator := "operator-" + ns
	bindRole(t, ns, "admin", operator)
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "frozen-machines-" + ns},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps.cozy.io"}, APIVersions: []string{"*"}, Resources: []string{"virtualmachines"}},
				},
			}}},
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "this-test", Expression: `object.metadata.namespace == "` + ns + `"`}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: `object.metadata.name != "frozen" || object.spec.runStrategy != "Always"`,
				Message:    "frozen machines stay stopped",
				Reason:     ptr.To(metav1.StatusReasonForbidden),
			}},
		},
	}
	policies := cp.Kube.AdmissionregistrationV1()
	if _, err := policies.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = policies.ValidatingAdmissionPolicies().Delete(context.Background(), policy.Name, metav1.DeleteOptions{})
	})
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec:       admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: policy.Name, ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny}},
	}
	if _, err := policies.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = policies.ValidatingAdmissionPolicyBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})

	machines := cp.Apps.AppsV1alpha1().VirtualMachines(ns)
	for _, name := range []string{"frozen", "free"} {
		halted := &appsv1alpha1.VirtualMachine{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: &appsv1alpha1.VirtualMachineSpec{RunStrategy: ptr.To(appsv1alpha1.RunStrategyHalted)}}
		if _, err := machines.Create(ctx, halted, metav1.CreateOptions{FieldManager: "creator"}); err != nil {
			t.Fatal(err)
		}
	}

	// The policy refuses starting the frozen machine, by PATCH and by start alike.
	eventually(t, 20*time.Second, "the policy refuses a PATCH that starts the frozen machine", func(ctx context.Context) (bool, error) {
		_, err := machines.Patch(ctx, "frozen", types.MergePatchType, []byte(`{"spec":{"runStrategy":"Always"}}`), metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "frozen machines stay stopped"), err
	})
	for _, body := range []string{`{"dryRun":["All"]}`, ""} {
		code, answer, _ := rawBodyAs(t, operator, http.MethodPut, appsPath(ns, "virtualmachines", "frozen", "start"), body)
		if code != http.StatusForbidden || !strings.Contains(answer, "frozen machines stay stopped") {
			t.Errorf("start (body %q) of a machine the policy keeps stopped: %d %s", body, code, answer)
		}
	}
	if got, err := machines.Get(ctx, "frozen", metav1.GetOptions{}); err != nil || *got.Spec.RunStrategy != appsv1alpha1.RunStrategyHalted {
		t.Errorf("the refused start changed the machine: %v %v", err, got)
	}

	// Another machine starts; its managedFields say who set the run strategy.
	code, answer, _ := rawBodyAs(t, operator, http.MethodPut, appsPath(ns, "virtualmachines", "free", "start"), "")
	if code != http.StatusOK {
		t.Fatalf("start: %d %s", code, answer)
	}
	got, err := machines.Get(ctx, "free", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Spec.RunStrategy != appsv1alpha1.RunStrategyAlways {
		t.Errorf("started machine: runStrategy %s", *got.Spec.RunStrategy)
	}
	owners := map[string]string{}
	for _, entry := range got.ManagedFields {
		if entry.FieldsV1 != nil && strings.Contains(string(entry.FieldsV1.Raw), `"f:runStrategy"`) {
			owners[entry.Manager] = string(entry.Operation)
		}
	}
	if len(owners) != 1 {
		t.Fatalf("spec.runStrategy owned by %v, want the starting client alone", owners)
	}
	for manager, operation := range owners {
		if operation != string(metav1.ManagedFieldsOperationUpdate) || manager == "" || manager == "creator" {
			t.Errorf("spec.runStrategy owned by %q with %s, want the starting client's manager with Update", manager, operation)
		}
	}
}
