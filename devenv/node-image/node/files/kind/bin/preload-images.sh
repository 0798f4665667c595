#!/bin/sh
# Import the images baked into the node image into containerd's k8s.io namespace, once per
# node, so that kubeadm and the default CNI and StorageClass pull nothing.
set -eu
marker=/var/lib/kind-images-preloaded
[ -f "${marker}" ] && exit 0
for archive in /kind/images/*.tar; do
  [ -f "${archive}" ] || continue
  ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests "${archive}"
done
touch "${marker}"
