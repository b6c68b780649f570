package releasecache

// eventLog is a ring of the most recent events, so a watch can resume from any resourceVersion
// newer than the oldest one it still holds. It is bounded twice: by a count of events, and by the
// bytes of the object versions only it keeps alive (see Event.retained), so a burst of changes to
// large objects cannot make the server hold many old versions of them.
type eventLog struct {
	events []Event
	start  int // index of the oldest event
	size   int
	// horizon is the newest resourceVersion whose successors are not all in the log: a watch
	// from an older resourceVersion may have missed events and must relist.
	horizon uint64
	// bytes is the sum of the logged events' retained sizes; maxBytes bounds it (0: no bound).
	bytes, maxBytes int64
}

func newEventLog(capacity int) eventLog {
	if capacity < 1 {
		capacity = 1
	}
	return eventLog{events: make([]Event, capacity)}
}

func (l *eventLog) add(e Event) {
	for l.size > 0 && (l.size == len(l.events) || (l.maxBytes > 0 && l.bytes+e.retained > l.maxBytes)) {
		l.dropOldest()
	}
	l.events[(l.start+l.size)%len(l.events)] = e
	l.size++
	l.bytes += e.retained
	l.recordSize()
}

// dropOldest forgets the oldest event and lets go of the objects it held.
func (l *eventLog) dropOldest() {
	oldest := &l.events[l.start]
	l.horizon = oldest.RV
	l.bytes -= oldest.retained
	*oldest = Event{}
	l.start = (l.start + 1) % len(l.events)
	l.size--
}

// since returns the events newer than rv, oldest first, or false when some may have been dropped
// or when rv does not say where to resume: several events share it (the deletions a relist found
// all carry the list's resourceVersion), and a client cut off between them would miss the rest.
func (l *eventLog) since(rv uint64) ([]Event, bool) {
	if rv < l.horizon {
		return nil, false
	}
	var out []Event
	at := 0
	for i := 0; i < l.size; i++ {
		e := l.events[(l.start+i)%len(l.events)]
		switch {
		case e.RV > rv:
			out = append(out, e)
		case e.RV == rv:
			at++
		}
	}
	if at > 1 {
		return nil, false
	}
	return out, true
}

// reset forgets all events: history before rv can no longer be replayed.
func (l *eventLog) reset(rv uint64) {
	clear(l.events)
	l.start, l.size, l.horizon, l.bytes = 0, 0, rv, 0
	l.recordSize()
}
