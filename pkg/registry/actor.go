package registry

import (
	"context"

	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

// actor is the user a request acts for, recorded on the release it writes.
func actor(ctx context.Context) string {
	if u, ok := genericapirequest.UserFrom(ctx); ok && u.GetName() != "" {
		return u.GetName()
	}
	return "system:anonymous"
}
