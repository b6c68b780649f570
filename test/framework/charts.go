package framework

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cozystack/apps-apiserver/pkg/release"
)

// chartArchive is a chart directory packaged as Helm packages it: a gzipped tar whose entries sit
// under the chart's name.
type chartArchive struct {
	name   string
	data   []byte
	digest string // "sha256:<hex>", as Flux artifacts state it
}

// localChartDir is the local chart a kind's releases install: Cozystack names a release
// "<chart>-<object>", so the chart is the release prefix without its dash.
func localChartDir(chartsDir string, kind *release.Kind) string {
	return filepath.Join(chartsDir, strings.TrimSuffix(kind.Layout.ReleasePrefix, "-"))
}

// packageChart archives the chart in dir. Entries are written in walk order with fixed times, so
// the same chart always has the same digest.
func packageChart(dir string) (*chartArchive, error) {
	name := filepath.Base(dir)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: name + "/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(content)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("packaging chart %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return &chartArchive{name: name, data: buf.Bytes(), digest: "sha256:" + hex.EncodeToString(sum[:])}, nil
}
