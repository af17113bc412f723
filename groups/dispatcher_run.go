package groups

import "context"

// Run reads messages from in and handles them until in is closed and every
// message read has been handled, then returns nil; or until ctx is done,
// then returns ctx.Err(). Handlers receive ctx and should return when it is
// done: Run waits for running handlers before it returns, and leaves the
// messages it had not started unacknowledged, for the broker to redeliver.
// Nil messages are ignored. Run returns ErrRunning if it is already running.
func (d *Dispatcher) Run(ctx context.Context, in <-chan Message) error {
	if !d.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer d.running.Store(false)

	r := &run{
		d:      d,
		groups: make(map[string]*groupQueue),
		idle:   newDlist(groupIdleLinks),
		work:   make(chan job),
		done:   make(chan job),
	}
	for range d.workers {
		go d.work(ctx, r.work, r.done)
	}
	return r.loop(ctx, in)
}

// run is the state of one Run. Only Run's goroutine touches it; workers see
// nothing but the jobs sent to them, so the scheduling needs no lock.
//
// Invariants:
//   - a group is in ready iff it is not running and has queued messages, so
//     at most one message of a group is ever being handled;
//   - a group is in idle iff it is neither running nor has queued messages;
//     only those are forgotten, beyond d.maxIdle;
//   - held counts messages read from in and not yet finished by a worker.
type run struct {
	d      *Dispatcher
	groups map[string]*groupQueue
	idle   dlist[groupQueue]
	ready  fifo[readyItem]
	held   int
	work   chan job
	done   chan job
}

type groupQueue struct {
	name    string
	msgs    fifo[Message]
	running bool
	ready   bool
	seen    bool   // a message of the group was started in this Run
	epoch   uint64 // d.epoch when that last happened
	idle    links[groupQueue]
}

func groupIdleLinks(g *groupQueue) *links[groupQueue] { return &g.idle }

// readyItem is either a group with queued messages or one ungrouped message.
type readyItem struct {
	g *groupQueue
	m Message
}

// job is one message handed to a worker. exit asks the worker to report that
// it has stopped.
type job struct {
	m      Message
	g      *groupQueue
	group  string
	notify bool
	epoch  uint64
	exit   bool
}

func (r *run) loop(ctx context.Context, in <-chan Message) error {
	inOpen := true
	for {
		if err := ctx.Err(); err != nil {
			r.stop()
			return err
		}
		if !inOpen && r.held == 0 {
			r.stop()
			return nil
		}
		var recv <-chan Message
		if inOpen && r.held < r.d.max {
			recv = in
		}
		var send chan<- job
		var next job
		if r.ready.len() > 0 {
			send, next = r.work, r.peek()
		}
		select {
		case m, ok := <-recv:
			if !ok {
				inOpen = false
			} else if m != nil {
				r.accept(m)
			}
		case send <- next:
			r.started(next)
		case j := <-r.done:
			r.finished(j)
		case <-ctx.Done():
		}
	}
}

// accept queues a message read from in.
func (r *run) accept(m Message) {
	r.held++
	id := m.GroupID()
	if id == "" {
		r.ready.push(readyItem{m: m})
		return
	}
	g := r.groups[id]
	if g == nil {
		g = &groupQueue{name: id}
		r.groups[id] = g
	}
	r.idle.remove(g)
	g.msgs.push(m)
	if !g.running && !g.ready {
		g.ready = true
		r.ready.push(readyItem{g: g})
	}
}

// peek builds the job for the first ready item without consuming it: the
// send may lose the select.
func (r *run) peek() job {
	it := r.ready.front()
	if it.g == nil {
		return job{m: it.m}
	}
	g, m := it.g, it.g.msgs.front()
	epoch := r.d.epoch.Load()
	return job{
		m:      m,
		g:      g,
		group:  g.name,
		epoch:  epoch,
		notify: !g.seen || g.epoch != epoch || m.FirstForConsumer(),
	}
}

// started records that a worker took j.
func (r *run) started(j job) {
	r.ready.pop()
	if g := j.g; g != nil {
		g.msgs.pop()
		g.ready, g.running = false, true
		g.seen, g.epoch = true, j.epoch
	}
}

// finished records that a worker is done with j.
func (r *run) finished(j job) {
	r.held--
	g := j.g
	if g == nil {
		return
	}
	g.running = false
	if g.msgs.len() > 0 {
		// Back of the line: groups with backlogs take turns.
		g.ready = true
		r.ready.push(readyItem{g: g})
		return
	}
	g.msgs = fifo[Message]{}
	r.idle.pushFront(g)
	for r.idle.len() > r.d.maxIdle {
		old := r.idle.back()
		r.idle.remove(old)
		delete(r.groups, old.name)
	}
}

// stop ends the workers and waits until each has reported its exit. Results
// of jobs still running are collected and dropped on the way.
func (r *run) stop() {
	close(r.work)
	for live := r.d.workers; live > 0; {
		if j := <-r.done; j.exit {
			live--
		}
	}
}
