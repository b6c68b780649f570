package releasecache

// Reconvert makes the cache convert every release again with its converter, whose kinds changed
// (a kind was defined, changed or removed): it restarts the upstream list and watch, and the list
// is applied as a relist is, with these differences for releases that did not change upstream —
// an object whose kind is new, or whose release now belongs to another kind, is added (and the
// old one deleted) at the list's revision; an object of the same kind is replaced without an
// event, as a custom resource reads differently after its CRD's schema changed; an object whose
// kind is gone is deleted. Requests made while a relist runs are served by the next one. It never
// blocks.
func (c *Cache) Reconvert() {
	c.mu.Lock()
	c.reconvertAsked++
	c.mu.Unlock()
	select {
	case c.relist <- struct{}{}:
	default:
	}
}
