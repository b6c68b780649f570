package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// samplePair runs cozy and direct n times each, interleaved (which one goes first alternates), and
// returns their latencies in milliseconds. On a shared 2-core machine whose speed drifts by tens of
// percent within minutes, measuring the two paths side by side keeps the drift out of the ratio.
func samplePair(n int, cozy, direct func(i int) error) (cozyMs, directMs []float64, err error) {
	cozyMs, directMs = make([]float64, 0, n), make([]float64, 0, n)
	timed := func(op func(int) error, i int, into *[]float64) error {
		start := time.Now()
		if err := op(i); err != nil {
			return err
		}
		*into = append(*into, float64(time.Since(start).Microseconds())/1000)
		return nil
	}
	for i := 0; i < n; i++ {
		a, b, intoA, intoB := cozy, direct, &cozyMs, &directMs
		if i%2 == 1 {
			a, b, intoA, intoB = direct, cozy, &directMs, &cozyMs
		}
		if err := timed(a, i, intoA); err != nil {
			return nil, nil, err
		}
		if err := timed(b, i, intoB); err != nil {
			return nil, nil, err
		}
	}
	return cozyMs, directMs, nil
}

func percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	idx := int(float64(len(sorted)-1) * p)
	return sorted[idx]
}

// row is one line of the report: a figure for apps.cozy.io, the same for the HelmRelease CRD
// served directly by kube-apiserver, and their ratio.
type row struct {
	Name   string  `json:"name"`
	Unit   string  `json:"unit"`
	Cozy   float64 `json:"cozy"`
	Direct float64 `json:"direct,omitempty"`
	Ratio  float64 `json:"ratio,omitempty"`
	// FloorRatio is apps.cozy.io's figure against the floor: the direct figure plus the
	// aggregator's toll, what an aggregated request cannot avoid (request latencies only).
	FloorRatio float64 `json:"floorRatio,omitempty"`
	Note       string  `json:"note,omitempty"`
}

type report struct {
	Objects    int    `json:"objects"`
	Kinds      int    `json:"kinds"`
	Namespaces int    `json:"namespaces"`
	Rows       []row  `json:"rows"`
	Started    string `json:"started"`
	// AggregatorTollMs is the aggregator's toll on one request (a discovery GET through it
	// against one kube-apiserver serves itself, p50s), the floor's second part.
	AggregatorTollMs float64 `json:"aggregatorTollMs"`
}

func (r *report) add(name, unit string, cozy, direct float64, note string) {
	row := row{Name: name, Unit: unit, Cozy: cozy, Direct: direct, Note: note}
	if direct > 0 {
		row.Ratio = cozy / direct
	}
	r.Rows = append(r.Rows, row)
	fmt.Printf("  %-40s %s\n", name, row.format())
}

func (r *report) latencies(name string, cozy, direct []float64) {
	r.add(name+" p50", "ms", percentile(cozy, 0.5), percentile(direct, 0.5), "")
	r.add(name+" p99", "ms", percentile(cozy, 0.99), percentile(direct, 0.99), "")
}

// requestLatencies are latencies of requests through the aggregator, reported against the floor
// as well as against the direct path.
func (r *report) requestLatencies(name string, cozy, direct []float64) {
	for _, p := range []struct {
		suffix string
		q      float64
	}{{" p50", 0.5}, {" p99", 0.99}} {
		c, d := percentile(cozy, p.q), percentile(direct, p.q)
		r.add(name+p.suffix, "ms", c, d, "")
		if floor := d + r.AggregatorTollMs; floor > 0 {
			last := &r.Rows[len(r.Rows)-1]
			last.FloorRatio = c / floor
			fmt.Printf("  %-40s %12.2f x the floor (%.2f ms)\n", "", last.FloorRatio, floor)
		}
	}
}

func (row row) format() string {
	s := fmt.Sprintf("%12.2f %-6s", row.Cozy, row.Unit)
	if row.Direct > 0 {
		s += fmt.Sprintf(" direct %10.2f  ratio %5.2f", row.Direct, row.Ratio)
	}
	if row.Note != "" {
		s += "  " + row.Note
	}
	return s
}

func (r *report) table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-40s %14s %14s %7s %7s\n", "measure", "apps.cozy.io", "HelmRelease", "ratio", "floor")
	for _, row := range r.Rows {
		direct, ratio, floor := "", "", ""
		if row.Direct > 0 {
			direct, ratio = fmt.Sprintf("%.2f %s", row.Direct, row.Unit), fmt.Sprintf("%.2f", row.Ratio)
		}
		if row.FloorRatio > 0 {
			floor = fmt.Sprintf("%.2f", row.FloorRatio)
		}
		fmt.Fprintf(&b, "%-40s %14s %14s %7s %7s %s\n", row.Name, fmt.Sprintf("%.2f %s", row.Cozy, row.Unit), direct, ratio, floor, row.Note)
	}
	return b.String()
}
