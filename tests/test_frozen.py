"""`core.frozen.frozen_new`, the quick way the stacking and the index cache make their objects.

An object made by `frozen_new` must be indistinguishable from one its class's constructor
makes: equal, the same hash, repr and `__dict__` (every field, in order), as frozen, and
`dataclasses.replace` works on it. The classes it is used for must stay plain frozen
dataclasses (no slots, no `__post_init__`, every field in `__init__`), or it would make
something else than their constructor. No engine needed.
"""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from layerlab.core.filetree import LayerFile, index_saved_image, stack_layers
from layerlab.core.frozen import frozen_new
from layerlab.core.indexcache import decode_entries, encode_entries
from layerlab.core.layertar import EntryType, RawEntry
from test_filetree import FORMATS
from test_indexcache import ENTRIES

#: Every class made with frozen_new somewhere in the package.
MADE_QUICKLY = (LayerFile, RawEntry)


@pytest.mark.parametrize("cls", MADE_QUICKLY, ids=lambda c: c.__name__)
def test_the_classes_made_quickly_are_plain_frozen_dataclasses(cls):
    params = cls.__dataclass_params__
    assert params.frozen and params.eq
    assert not hasattr(cls, "__slots__") and not hasattr(cls, "__post_init__")
    assert all(f.init for f in dataclasses.fields(cls))


def same_object(quick, normal) -> None:
    assert type(quick) is type(normal)
    assert quick == normal and hash(quick) == hash(normal) and repr(quick) == repr(normal)
    assert list(vars(quick).items()) == list(vars(normal).items())  # every field, in the fields' order
    assert pickle.loads(pickle.dumps(quick)) == normal
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.path = "/elsewhere"
    assert dataclasses.replace(quick, path="/x") == dataclasses.replace(normal, path="/x")


def remade(obj):
    """`obj` made again by its class's constructor."""
    return type(obj)(**{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})


def test_frozen_new_makes_what_the_constructor_makes():
    normal = RawEntry(path="/etc/passwd", type=EntryType.FILE, size=12)
    quick = frozen_new(RawEntry, {"path": "/etc/passwd", "type": EntryType.FILE, "size": 12, "link": None, "whiteout": None})
    same_object(quick, normal)


def test_decoded_entries_are_the_entries_encoded():
    decoded = decode_entries(encode_entries(ENTRIES))
    assert decoded == ENTRIES
    for quick, normal in zip(decoded, ENTRIES):
        same_object(quick, normal)


def test_decoding_an_unknown_entry_type_still_fails_as_the_enum_does():
    with pytest.raises(ValueError):
        decode_entries([["/x", "no-such-type", 0, None, None]])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_stacked_changes_are_the_objects_their_constructor_makes(fmt):
    index, _ = index_saved_image(FORMATS[fmt][0]())
    changes = [change for layer in index.layers for change in layer.changes]
    assert changes
    for change in changes:
        same_object(change, remade(change))


def test_the_events_of_a_path_are_made_when_asked():
    F, Dir = EntryType.FILE, EntryType.DIRECTORY
    diff_ids = ["sha256:" + "1" * 64, "sha256:" + "2" * 64]
    index = stack_layers(
        [[RawEntry("/etc", Dir), RawEntry("/etc/motd", F, 3)], [RawEntry("/etc", Dir), RawEntry("/etc/motd", F, 5)]],
        diff_ids,
    )
    events = index.which("/etc/motd").events
    assert [(e.layer_index, e.diff_id, e.size) for e in events] == [(0, diff_ids[0], 3), (1, diff_ids[1], 5)]
    assert index.which("/etc/motd") == index.which("/etc/motd")
