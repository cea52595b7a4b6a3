"""Models: builders, training, saved models, backbone weights, users' own models."""
