"""Photos in: reading and checking images, the dataset and its split, downloads, fingerprints."""
