"""Turn a run of the checks into a report for reviewers: verdicts, evidence, provenance."""
