"""`python -m dispatcher demo`: the stories through the real path, as a tool from outside -
a dev bot posts chat messages, simulated phones answer pushes through the signed links."""
