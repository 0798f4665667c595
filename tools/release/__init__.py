"""A release: images built or reused, pushed by digest, the chart packaged with them pinned and
pushed as an OCI artifact, a manifest and a changelog section (`python -m tools.release`)."""
