/**
 * Node's flags for the forward-auth service (#15: "a process that only verifies tokens should be
 * small"), set as NODE_OPTIONS by k8s/base/auth.yaml and docker-compose.yml (test/deploy checks
 * both) and by the benchmark's 2g topology. A 2 MiB young-generation semi-space instead of Node
 * 20's 16 MiB: under 2g's load (10 000 POSTs at c=1000 through nginx) the service's RSS peaked at
 * 80.7-82 MB instead of 106-108, with its CPU a request within the runs' spread (131-153 µs against
 * 143-158; docs/benchmarks.md "The forward-auth's memory, session 10"). The service keeps little
 * but its verified-token cache, so a small young generation fits what it allocates.
 */
export const AUTH_NODE_OPTIONS = '--max-semi-space-size=2';
