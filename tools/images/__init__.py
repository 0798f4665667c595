"""Build the project's images from `images/`, tagged by a hash of their inputs, and lock them.

`python -m tools.images build [NAME ...]` builds what changed; see images/README.md.
"""
