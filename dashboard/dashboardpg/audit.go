package dashboardpg

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/dashboard"
)

// RecordAudit implements dashboard.AuditLog.
func (s *Store) RecordAudit(ctx context.Context, e *dashboard.AuditEntry) (int64, error) {
	detail := e.Detail
	if detail == nil {
		detail = map[string]string{}
	}
	raw, err := json.Marshal(detail)
	if err != nil {
		return 0, fmt.Errorf("marshal audit detail: %w", err)
	}
	outcome := e.Outcome
	if outcome == "" {
		outcome = dashboard.OutcomePending
	}
	var auditID int64
	err = s.pool.QueryRow(ctx, `INSERT INTO dashboard_audit (at, operator, session_id, client_ip, user_agent, action,
		merchant_id, target, detail, outcome, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		e.At, e.Operator, e.SessionID, e.ClientIP, e.UserAgent, e.Action, e.MerchantID, e.Target, raw, outcome, e.Result,
	).Scan(&auditID)
	if err != nil {
		return 0, fmt.Errorf("insert audit entry: %w", err)
	}
	return auditID, nil
}

// FinishAudit implements dashboard.AuditLog.
func (s *Store) FinishAudit(ctx context.Context, auditID int64, outcome dashboard.AuditOutcome, target, result string) error {
	_, err := s.pool.Exec(ctx, `UPDATE dashboard_audit SET outcome = $2, target = CASE WHEN $3 = '' THEN target ELSE $3 END,
		result = $4 WHERE id = $1`, auditID, outcome, target, result)
	if err != nil {
		return fmt.Errorf("finish audit entry: %w", err)
	}
	return nil
}

// ListAudit implements dashboard.AuditLog.
func (s *Store) ListAudit(ctx context.Context, limit int, before int64) ([]dashboard.AuditEntry, bool, error) {
	a := args{}
	where := ""
	if before > 0 {
		where = "WHERE id < " + a.add(before)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, operator, session_id, client_ip, user_agent, action, merchant_id, target,
		detail, outcome, result FROM dashboard_audit `+where+` ORDER BY id DESC LIMIT `+a.add(limit+1), a...)
	if err != nil {
		return nil, false, fmt.Errorf("list audit entries: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (dashboard.AuditEntry, error) {
		var e dashboard.AuditEntry
		err := row.Scan(&e.ID, &e.At, &e.Operator, &e.SessionID, &e.ClientIP, &e.UserAgent, &e.Action, &e.MerchantID,
			&e.Target, &e.Detail, &e.Outcome, &e.Result)
		return e, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("list audit entries: %w", err)
	}
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}
