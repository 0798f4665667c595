"""A fake NVIDIA GPU device plugin: the kubelet device-plugin API v1beta1 for `nvidia.com/gpu`.

It advertises a configurable number of fake GPUs per node with stable ids, and on allocation hands
the container `NVIDIA_VISIBLE_DEVICES` and a fake `nvidia-smi` that shows exactly those devices, so
that scheduling and allocation follow the same path as with NVIDIA's plugin.
"""
