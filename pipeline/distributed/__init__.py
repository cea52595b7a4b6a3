"""The optional Ray engine: a cluster, photo work as actor pools, models as tasks."""
