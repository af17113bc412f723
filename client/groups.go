package client

import (
	"context"

	"github.com/tethermq/tether/groups"
)

// Dispatch consumes the subscription through an ordered dispatcher
// (groups.Dispatcher): messages of one JMSXGroupID are handled one at a
// time in arrival order, different groups in parallel on o.Workers
// goroutines, messages without a group spread over the workers. A message
// is acked when h returns nil and nacked (redelivered) when it returns an
// error, so subscribe with AckIndividual; Prefetch bounds what the broker
// sends ahead, and o.MaxPending what the dispatcher buffers.
//
// o.OnOwnershipChange is called for a group before its next message when
// the broker flagged JMSXGroupFirstForConsumer, and for every group after
// a reconnect (the broker then sees a new consumer and may assign the
// group elsewhere).
//
// Dispatch returns when ctx ends (ctx.Err()) or the subscription ends (its
// error); handlers still running are waited for.
func (s *Subscription) Dispatch(ctx context.Context, h func(ctx context.Context, m *Message) error, o groups.Options) error {
	d := groups.NewDispatcher(func(ctx context.Context, m groups.Message) error {
		return h(ctx, m.(*Message))
	}, o)
	in := make(chan groups.Message)
	pumpErr := make(chan error, 1)
	pumpCtx, stopPump := context.WithCancel(ctx)
	defer stopPump()
	go func() {
		defer close(in)
		var conn uint64
		first := true
		for {
			m, err := s.Next(pumpCtx)
			if err != nil {
				pumpErr <- err
				return
			}
			if c := m.m.Connection(); !first && c != conn {
				d.OwnershipMayHaveChanged()
			}
			first, conn = false, m.m.Connection()
			select {
			case in <- m:
			case <-pumpCtx.Done():
				pumpErr <- pumpCtx.Err()
				return
			}
		}
	}()
	err := d.Run(ctx, in)
	stopPump()
	if perr := <-pumpErr; err == nil && ctx.Err() == nil {
		err = perr
	}
	return err
}
