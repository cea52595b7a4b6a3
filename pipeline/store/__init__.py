"""What a run keeps: the artifacts contract, manifests, runs, locks, caches, checkpoints."""
