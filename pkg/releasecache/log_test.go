package releasecache

import (
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/component-base/metrics/testutil"
)

// paddedRelease is a release of kind K whose values carry pad bytes, so its size is known; a label
// with its (two-digit) resourceVersion makes every version a visible change.
func paddedRelease(name string, rv, pad int) *unstructured.Unstructured {
	hr := release("a", name, rv, map[string]string{"kind": "K", "v": fmt.Sprintf("%02d", rv%100)})
	_ = unstructured.SetNestedField(hr.Object, strings.Repeat("x", pad), "spec", "values", "pad")
	return hr
}

func TestEventLogIsBoundedByTheBytesOfOldVersions(t *testing.T) {
	RegisterMetrics()
	c := New(testConverter, 100, time.Minute)
	size := approximateSize(paddedRelease("o0", 11, 1000).Object) // every version below is this size
	// Room for two replaced versions, not three.
	c.LimitEventLogBytes(2*size + size/2)
	s := (*store)(c)
	_ = s.Replace(nil, "10")
	for i := 0; i < 5; i++ {
		_ = s.Add(paddedRelease(fmt.Sprint("o", i), 11+i, 1000)) // rv 11..15: additions keep nothing old alive
	}
	if c.log.size != 5 || c.log.bytes != 0 {
		t.Fatalf("additions cost the log nothing: want 5 events and 0 bytes, got %d and %d", c.log.size, c.log.bytes)
	}
	for i := 0; i < 5; i++ {
		_ = s.Update(paddedRelease(fmt.Sprint("o", i), 16+i, 1000)) // rv 16..20: each replaces a version of `size`
	}
	if c.log.size != 2 || c.log.bytes != 2*size || c.log.horizon != 18 {
		t.Fatalf("want the last two changes (19, 20) of %d bytes each and the horizon at 18, got %d events, %d bytes, horizon %d",
			size, c.log.size, c.log.bytes, c.log.horizon)
	}
	events, _ := testutil.GetGaugeMetricValue(eventLogEvents)
	retained, _ := testutil.GetGaugeMetricValue(eventLogBytes)
	if events != 2 || retained != float64(2*size) {
		t.Errorf("the metrics must show the log: want 2 events and %d bytes, got %v and %v", 2*size, events, retained)
	}
	live := 0
	for _, e := range c.log.events {
		if e.Object != nil || e.Prev != nil {
			live++
		}
	}
	if live != c.log.size {
		t.Errorf("dropped events must let go of their objects: %d slots hold objects, %d events logged", live, c.log.size)
	}

	w, err := c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 18})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"o3", "o4"} {
		if e := recv(t, w); e.Type != watch.Modified || nameOf(e.Object) != want {
			t.Errorf("resuming at the horizon: want MODIFIED %s, got %s %s", want, e.Type, nameOf(e.Object))
		}
	}
	w.Stop()
	w, err = c.Watch(WatchOptions{Kind: "K", Matches: everything, NewObject: newObject, ResourceVersion: 17})
	if err != nil {
		t.Fatal(err)
	}
	if e := recv(t, w); e.Type != watch.Error {
		t.Errorf("a watch from before the horizon must get 410 Expired, got %s %v", e.Type, e.Object)
	}
	if _, err := c.ListAt("K", "", 17); !apierrors.IsResourceExpired(err) {
		t.Errorf("a list at a dropped revision must be 410 Expired, got %v", err)
	}

	// A deletion keeps two versions alive (its last state is a copy): it needs the room of two.
	_ = s.Delete(paddedRelease("o0", 21, 1000))
	if c.log.size != 1 || c.log.bytes != 2*size {
		t.Errorf("after a deletion: want only it logged, at %d bytes; got %d events, %d bytes", 2*size, c.log.size, c.log.bytes)
	}
}

func TestApproximateSizeFollowsTheSerializedSize(t *testing.T) {
	small := approximateSize(paddedRelease("o", 1, 10).Object)
	large := approximateSize(paddedRelease("o", 1, 10010).Object)
	if large-small != 10000 {
		t.Errorf("10,000 more bytes of values must count 10,000 more, got %d", large-small)
	}
}
