// Package modgraph holds the test that keeps the runtime's module graph
// slim: what a service gets in its go.mod when it imports the runtime.
package modgraph
