// Package deploy holds Herald's deployment files, and the tests that keep
// them working: the systemd unit (herald.service), Prometheus alert rules
// (prometheus/alerts.yml, with promtool unit tests) and the Grafana
// dashboard (grafana/herald.json). The Dockerfile and compose.yaml sit at
// the repository root; this package's tests build the image with the
// Dockerfile, and cmd/herald's tests run compose.yaml's stack as processes.
//
// The package has no code: it exists for its tests.
package deploy
