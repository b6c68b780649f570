package framework

import (
	"fmt"
	"os"
	"sync"

	"k8s.io/klog/v2"
)

// ProcessTB lets the control plane, which k8s.io/kubernetes starts through a testing.TB, run in a
// long-lived process (make run) or a TestMain, where no *testing.T exists. Failures panic with the
// message; cleanups run on Close, last registered first.
type ProcessTB struct {
	name     string
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// NewProcessTB returns a TB named name.
func NewProcessTB(name string) *ProcessTB { return &ProcessTB{name: name} }

// Close runs the registered cleanups.
func (t *ProcessTB) Close() {
	t.mu.Lock()
	cleanups := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}

func (t *ProcessTB) Attr(key, value string) {}
func (t *ProcessTB) Chdir(dir string) {
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
}
func (t *ProcessTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}
func (t *ProcessTB) Error(args ...any)                 { t.fail(fmt.Sprint(args...)) }
func (t *ProcessTB) Errorf(format string, args ...any) { t.fail(fmt.Sprintf(format, args...)) }
func (t *ProcessTB) Fail()                             { t.fail("failed") }
func (t *ProcessTB) FailNow()                          { panic(t.name + ": FailNow") }
func (t *ProcessTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}
func (t *ProcessTB) Fatal(args ...any) { panic(t.name + ": " + fmt.Sprint(args...)) }
func (t *ProcessTB) Fatalf(format string, args ...any) {
	panic(t.name + ": " + fmt.Sprintf(format, args...))
}
func (t *ProcessTB) Helper()                         {}
func (t *ProcessTB) Log(args ...any)                 { klog.InfoDepth(1, args...) }
func (t *ProcessTB) Logf(format string, args ...any) { klog.InfofDepth(1, format, args...) }
func (t *ProcessTB) Name() string                    { return t.name }
func (t *ProcessTB) Setenv(key, value string) {
	if err := os.Setenv(key, value); err != nil {
		t.Fatal(err)
	}
}
func (t *ProcessTB) Skip(args ...any)                 { panic(t.name + ": skip: " + fmt.Sprint(args...)) }
func (t *ProcessTB) Skipf(format string, args ...any) { t.Skip(fmt.Sprintf(format, args...)) }
func (t *ProcessTB) SkipNow()                         { t.Skip() }
func (t *ProcessTB) Skipped() bool                    { return false }
func (t *ProcessTB) TempDir() string {
	dir, err := os.MkdirTemp("", "cozy-"+t.name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (t *ProcessTB) fail(msg string) {
	klog.ErrorDepth(2, msg)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}
