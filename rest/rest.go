// Package rest is the REST API of the reference (/v1 and /api/v1): thin
// adapters that run fixed GraphQL documents against the schema in-process
// and reshape the results into the documented JSON. It holds no business
// rules and no SQL.
package rest
