package framework

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// FaultProxy forwards TCP connections to a target (TLS passes through untouched) and can cut
// them: every open connection is closed and new ones are refused until Restore, as when the
// target restarts or the network between the two fails.
type FaultProxy struct {
	listener net.Listener
	target   string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

// NewFaultProxy listens on a free loopback port and forwards to target (host:port).
func NewFaultProxy(target string) (*FaultProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{listener: l, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *FaultProxy) Addr() string { return p.listener.Addr().String() }

// Cut closes every forwarded connection and refuses new ones until Restore.
func (p *FaultProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore accepts connections again.
func (p *FaultProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Close stops the proxy and closes its connections.
func (p *FaultProxy) Close() {
	p.Cut()
	p.listener.Close()
}

func (p *FaultProxy) serve() {
	for {
		in, err := p.listener.Accept()
		if err != nil {
			return
		}
		go p.forward(in)
	}
}

func (p *FaultProxy) forward(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		in.Close()
		out.Close()
		return
	}
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	in.Close()
	out.Close()
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}

// CompactEtcd compacts etcd's history up to its current revision, as kube-apiserver does every
// five minutes: a watch or list from an older resourceVersion that kube-apiserver's own watch
// cache cannot serve any more answers 410.
func (cp *ControlPlane) CompactEtcd(ctx context.Context) (int64, error) {
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{cp.etcdURL}})
	if err != nil {
		return 0, err
	}
	defer client.Close()
	got, err := client.Get(ctx, "compact-probe", clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("reading etcd's revision: %w", err)
	}
	rev := got.Header.Revision
	if _, err := client.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		return 0, fmt.Errorf("compacting etcd at %d: %w", rev, err)
	}
	return rev, nil
}
