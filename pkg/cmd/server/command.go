package server

import (
	"context"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli/globalflag"
	"k8s.io/component-base/logs"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"
)

// NewCommand returns the cozy-apiserver command.
func NewCommand(ctx context.Context) *cobra.Command {
	o := NewOptions()
	logOptions := logs.NewOptions()
	cmd := &cobra.Command{
		Use:          "cozy-apiserver",
		Short:        "Serves apps.cozy.io (Kubernetes, VirtualMachine, Bucket) through the Kubernetes aggregation layer, stored as Flux HelmReleases",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := logsapi.ValidateAndApply(logOptions, nil); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			logger := klog.FromContext(cmd.Context()).WithName("cozy-apiserver")
			return o.Run(klog.NewContext(cmd.Context(), logger))
		},
	}
	cmd.SetContext(ctx)
	fs := cmd.Flags()
	o.AddFlags(fs)
	logsapi.AddFlags(logOptions, fs)
	globalflag.AddGlobalFlags(fs, cmd.Name(), logs.SkipLoggingConfigurationFlags())
	return cmd
}
