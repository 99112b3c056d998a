"""The pure core of layerlab: where the truth about images, layers and changes is computed.

Nothing in this package imports `docker` or `ipywidgets`. The engine adapter turns raw API
answers into these objects; the views draw them.
"""
