"""The course's predict-first questions, and how each turns what the engine measured into an answer.

One question per lesson that had none (03 has its cache exercise). Each `answer_*` takes plain
measured values and returns the `Answer` with a sentence built from those values, so a wrong
guess is explained by what this engine did, not by what the course expected.
"""

from __future__ import annotations

import shlex
from typing import Sequence

from .model import ImageStack, human_size
from .i18n import N_, _
from .predict import Answer, Question

LAYER_COUNT = Question(
    "01-layers.layer-count",
    N_("The sample's Dockerfile has four instructions: FROM, COPY, RUN and CMD. "
    "How many filesystem layers will the built image have above its base's?"),
    ("0", "1", "2", "3", "4"),
)

APPEND_ONE_BYTE = Question(
    "02-copy-on-write.append-one-byte",
    N_("`echo -n x >> /data/big.bin` appends one byte to a 21 MB file that lives in an image layer. "
    "By how much will the container's R/W layer (SizeRw) grow?"),
    (N_("about 1 byte"), N_("about 4 kB (one disk block)"), N_("about 21 MB (the whole file)")),
)

ARCHIVES = Question(
    "04-instructions.archives",
    N_("`ADD source.tar.gz /app/` and `ADD source.zip /app/`: the two archives hold the same files. "
    "Which of them does ADD unpack into /app?"),
    (N_("both"), N_("only the gzip-compressed tar"), N_("only the zip"), N_("neither")),
)

PID1 = Question(
    "05-cmd-entrypoint.pid1",
    N_('Image 3 has ENTRYPOINT ["ping"] and CMD ["-c", "3", "127.0.0.1"]. '
    "`docker run IMAGE 127.0.0.1`: what runs as PID 1?"),
    ("127.0.0.1", "ping -c 3 127.0.0.1", "ping -c 3 127.0.0.1 127.0.0.1", "ping 127.0.0.1"),  # commands: never translated
)

CLEANUP_LATER = Question(
    "06-layer-costs.cleanup-later",
    N_("One RUN writes a 21 MB file, the next RUN deletes it (`rm`). "
    "How much bigger than its base will `docker images` show the image?"),
    (N_("about 0 B: the file is gone"), N_("about 21 MB: the deleted file still ships"), N_("about 42 MB: written, then deleted")),
)

TOOLS_LEFT_BEHIND = Question(
    "06-layer-costs.tools-left-behind",
    N_("The build stage holds a 31.5 MB toolchain and makes a small program; the final stage starts "
    "from busybox and takes only `COPY --from=build /out/hello ...`. What of the build stage ships "
    "in the final image?"),
    (N_("everything: the toolchain too"), N_("only the file COPY --from names"), N_("nothing: the final image is busybox alone")),
)

QUESTIONS = {q.key: q for q in (LAYER_COUNT, APPEND_ONE_BYTE, ARCHIVES, PID1, CLEANUP_LATER, TOOLS_LEFT_BEHIND)}


def answer_layer_count(image: ImageStack, base: ImageStack, course_labels: Sequence[str] = ("LABEL",)) -> Answer:
    """Layers above the base, counted in the engine's stack; which instructions made them."""
    above = image.entries[len(base.entries):]
    made = [e for e in above if e.is_layer]
    none = [e for e in above if not e.is_layer and e.keyword not in course_labels]
    count = len(made)
    if count >= len(LAYER_COUNT.choices):
        raise ValueError(f"{count} layers above the base: more than the question offers")
    made_by = ", ".join(e.keyword for e in made) or _("no instruction")
    none_by = ", ".join(dict.fromkeys(e.keyword for e in none)) or _("nothing else")
    return Answer(
        str(count),
        _("Measured: the engine's stack has {count} filesystem layer(s) above the base, made by "
          "{made_by}. {none_by} made none: FROM names the base, and CMD only writes the image's "
          "config. (The course's own LABEL entries make no layer either.)").format(
            count=count, made_by=made_by, none_by=none_by),
    )


def answer_append(file_size: int, grew_by: int) -> Answer:
    """How much SizeRw grew after one byte was appended to a file of `file_size` bytes."""
    if grew_by >= file_size * 0.9:
        choice = APPEND_ONE_BYTE.choices[2]
    elif grew_by < 512:
        choice = APPEND_ONE_BYTE.choices[0]
    else:
        choice = APPEND_ONE_BYTE.choices[1]
    return Answer(
        choice,
        _("Measured: SizeRw grew by {grew_by:,} bytes ({grew}) for one byte written: "
          "the storage driver copied the whole {size} file up before the write.").format(
            grew_by=grew_by, grew=human_size(grew_by), size=human_size(file_size)),
    )


def answer_archives(tar_gz_unpacked: bool, zip_unpacked: bool) -> Answer:
    choice = {(True, True): "both", (True, False): "only the gzip-compressed tar",
              (False, True): "only the zip", (False, False): "neither"}[(tar_gz_unpacked, zip_unpacked)]

    held = {True: _("its files (unpacked)"), False: _("the archive itself")}
    return Answer(choice, _("Measured: the gzip tar's layer holds {tar_gz}; the zip's layer holds {zip}. "
                            "ADD unpacks tars (plain, gzip, bzip2, xz), recognised by their contents; "
                            "a zip is no tar.").format(tar_gz=held[tar_gz_unpacked], zip=held[zip_unpacked]))


def answer_pid1(argv: Sequence[str] | None) -> Answer:
    """PID 1 as read from /proc/1/cmdline inside the container."""
    if not argv:
        raise ValueError("PID 1 could not be read")
    line = shlex.join(argv)
    choice = line if line in PID1.choices else None
    if choice is None:
        raise ValueError(f"PID 1 {line!r} is none of the question's choices")
    return Answer(choice, _("Measured: /proc/1/cmdline in the container reads `{line}`. The run arguments replaced "
                            "CMD as a whole and were appended to ENTRYPOINT, which they never replace.").format(line=line))


def answer_cleanup_later(base_size: int, image_size: int, file_size: int) -> Answer:
    """How much the image grew over its base (`docker images` sizes) with a file written, then deleted."""
    grew_by = image_size - base_size
    # Under half the file: gone; up to one and a half: one copy ships; more: two.
    copies = sum(grew_by >= file_size * bound for bound in (0.5, 1.5))
    return Answer(
        CLEANUP_LATER.choices[copies],
        _("Measured: `docker images` shows the image {grew} bigger than its base, for a "
          "{size} file no container of it can see. The RUN that wrote it made a layer holding "
          "it; the `rm` only added a whiteout in a layer above, and layers are never edited.").format(
            grew=human_size(grew_by), size=human_size(file_size)),
    )


def answer_tools(toolchain_shipped: bool, program_shipped: bool) -> Answer:
    """What the final image of a multi-stage build holds, read from its file index."""
    if toolchain_shipped:
        choice = TOOLS_LEFT_BEHIND.choices[0]
    elif program_shipped:
        choice = TOOLS_LEFT_BEHIND.choices[1]
    else:
        choice = TOOLS_LEFT_BEHIND.choices[2]
    holds = {(True, False): _("Measured: the final image's layers hold the program and do not hold the toolchain."),
             (True, True): _("Measured: the final image's layers hold the program and the toolchain."),
             (False, True): _("Measured: the final image's layers do not hold the program but hold the toolchain."),
             (False, False): _("Measured: the final image's layers hold neither the program nor the toolchain.")}
    return Answer(
        choice,
        holds[(program_shipped, toolchain_shipped)] + " " + _(
            "Only the last stage becomes the image; an earlier stage is a place to work in, and "
            "`COPY --from` takes from it exactly the paths it names."),
    )
