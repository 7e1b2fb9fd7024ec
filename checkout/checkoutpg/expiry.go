package checkoutpg

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/heraldpay/herald/internal/riverjob"
)

// ExpireSessionsArgs is the periodic River job that expires open sessions
// past their expires_at.
type ExpireSessionsArgs struct{}

// Kind implements river.JobArgs.
func (ExpireSessionsArgs) Kind() string { return "herald.expire_sessions" }

// expireBatch bounds one transaction of the sweep: small enough to keep
// locks short, large enough that a backlog clears in a few round trips.
const expireBatch = 500

// NewExpireSessionsWorker returns the worker of ExpireSessionsArgs for svc:
// it expires due sessions in batches until none is left.
func NewExpireSessionsWorker(svc *Service) river.Worker[ExpireSessionsArgs] {
	return river.WorkFunc(func(ctx context.Context, _ *river.Job[ExpireSessionsArgs]) error {
		for {
			n, err := svc.ExpireDue(ctx, expireBatch)
			if err != nil || n < expireBatch {
				return err
			}
		}
	})
}

// ExpiryPeriodicJob schedules the sweep every interval, and once at start.
// River runs periodic jobs on the elected leader only, so any number of
// worker processes sweep once per interval between them.
func ExpiryPeriodicJob(interval time.Duration) *river.PeriodicJob {
	return riverjob.Periodic(interval, ExpireSessionsArgs{})
}
