// Package api holds the OpenAPI 3.1 description of Herald's merchant API
// (openapi.yaml), embedded for the tests that hold the server to it.
package api

import _ "embed"

// OpenAPI is openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
