package framework

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// UpstreamWatches reads kube-apiserver's gauge of open watches on a resource, such as the
// HelmRelease watches the apps.cozy.io servers hold.
func (cp *ControlPlane) UpstreamWatches(ctx context.Context, resource schema.GroupResource) (int, error) {
	raw, err := cp.Kube.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	scanner := bufio.NewScanner(strings.NewReader(string(raw)))
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "apiserver_longrunning_requests{") && strings.Contains(line, `group="`+resource.Group+`"`) &&
			strings.Contains(line, `resource="`+resource.Resource+`"`) && strings.Contains(line, `verb="WATCH"`) {
			fields := strings.Fields(line)
			var n int
			if _, err := fmt.Sscan(fields[len(fields)-1], &n); err == nil {
				total += n
			}
		}
	}
	return total, scanner.Err()
}
