// Package deploytest checks the deployment files (compose, Dockerfile) by structure.
package deploytest
