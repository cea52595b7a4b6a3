"""Train, evaluate and record the four models of the cats-vs-dogs study."""
