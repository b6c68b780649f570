package releasecache

// approximateSize estimates how many bytes a decoded JSON document (a HelmRelease as the watch
// delivers it) takes when serialized, without serializing it: the cache uses it to bound the memory
// its event log keeps alive. It counts string and key lengths and a few bytes per other value, so
// it is within a small factor of the real size and costs one walk over the document.
func approximateSize(v any) int64 {
	switch x := v.(type) {
	case map[string]any:
		n := int64(2)
		for k, item := range x {
			n += int64(len(k)) + 4 + approximateSize(item)
		}
		return n
	case []any:
		n := int64(2)
		for _, item := range x {
			n += 1 + approximateSize(item)
		}
		return n
	case string:
		return int64(len(x)) + 2
	case nil:
		return 4
	default:
		// Numbers and booleans.
		return 8
	}
}
