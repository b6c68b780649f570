// Command kubectl is the real kubectl, built from k8s.io/kubectl at the version the tests pin, so
// the e2e suite drives the API exactly as users do without downloading a binary.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
