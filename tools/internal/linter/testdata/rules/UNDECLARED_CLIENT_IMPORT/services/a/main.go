// Package main is service a: it uses b (declared) and c (not declared).
package main

import (
	av1 "example.com/ws/gen/a/v1"
	bv1 "example.com/ws/gen/b/v1"
	cv1 "example.com/ws/gen/c/v1"
	"fmt"
)

func main() { fmt.Println(av1.X, bv1.X, cv1.X) }
