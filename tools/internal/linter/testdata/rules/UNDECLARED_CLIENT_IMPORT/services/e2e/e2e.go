// Package e2e drives every service; it is no service, so it may import all
// generated packages.
package e2e

import (
	av1 "example.com/ws/gen/a/v1"
	cv1 "example.com/ws/gen/c/v1"
)

var _, _ = av1.X, cv1.X
