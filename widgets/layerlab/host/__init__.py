"""The host layer: work on this machine for the stand-in base images.

When no registry answers, the course builds its bases from what this machine has: it reads
the Debian mirror apt already uses, checks installed Debian packages with dpkg, runs
debootstrap into a tar, packs busybox and its applets into a root filesystem tar, and keeps
what it made in a cache folder. That is host work, not engine work: nothing here imports
`docker` or `layerlab.engine`; it may import only `layerlab.core` and the standard library.
Progress goes out through a plain callback, `say(fraction, message)`.

The engine adapter (`layerlab.engine.prepare`) turns these tars into labeled images.
"""
