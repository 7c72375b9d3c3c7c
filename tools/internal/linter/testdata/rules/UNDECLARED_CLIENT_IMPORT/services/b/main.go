// Package main is service b: it uses c, as declared.
package main

import cv1 "example.com/ws/gen/c/v1"

func main() { _ = cv1.X }
