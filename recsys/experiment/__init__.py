"""The offline A/B harness: experiment files, assignment, the runner, the per-user table."""
