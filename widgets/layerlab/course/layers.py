"""Lesson 01, image layers: the sample app built, its layers drawn and read file by file, its
ids, and the containers that share it. The notebook imports everything it uses from here."""

from __future__ import annotations

from ..core.ids import ids_table
from ..core.questions import LAYER_COUNT, answer_layer_count
from ..core.sample_app import write_sample_context
from ..engine.layers import check_history, container_exists, image_layers, sharing
from ..views.layerstack import LayerStackView
from ..views.sharing import sharing_graph

__all__ = [
    "LAYER_COUNT", "LayerStackView", "answer_layer_count", "check_history", "container_exists", "ids_table",
    "image_layers", "sharing", "sharing_graph", "write_sample_context",
]
