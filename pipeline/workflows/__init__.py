"""The commands' work: a study, rescoring, sweeps, verify, benchmarks."""
