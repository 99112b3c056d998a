"""The seed's sample image: a small real app (a Makefile that builds, an app.py that runs).

The files live in `layerlab/lessons/sample_app/`. `write_sample_context` copies them into a
build-context folder and writes the seed's Dockerfile with the course's base in `FROM`:

    FROM <the app base>
    COPY . /app
    RUN make -C /app
    CMD python /app/app.py

`COPY . /app` copies the whole context but what `.dockerignore` keeps out, and the context's
`.dockerignore` lists the Dockerfile and itself: the Dockerfile names the learner's own base,
so a copy of it would make the COPY layer (its size, its checksum) differ from one learner to
the next. Keeping build files out of the image is good practice anyway.

The seed wrote `RUN make /app`, which asks make for a *target* called /app: the directory
exists and no rule makes it, so make does nothing. `-C /app` runs make *in* /app, with the
app's Makefile.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

SAMPLE_FILES = ("Makefile", "message.txt", "banner.py", "app.py")
TEMPLATE = "Dockerfile.template"
#: What `COPY . /app` leaves out: the build's own files (the Dockerfile names each learner's base).
DOCKERIGNORE_LINES = ("Dockerfile", ".dockerignore")
DOCKERIGNORE = "# The build's own files stay out of the image.\n" + "".join(f"{line}\n" for line in DOCKERIGNORE_LINES)


def sample_app_dir() -> Path:
    return Path(str(resources.files("layerlab"))) / "lessons" / "sample_app"


def sample_dockerfile(base_reference: str) -> str:
    template = (sample_app_dir() / TEMPLATE).read_text(encoding="utf-8")
    return template.replace("{base}", base_reference)


def write_sample_context(folder: Path, base_reference: str) -> str:
    """Copy the sample app into `folder` and write its Dockerfile; returns the Dockerfile."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in SAMPLE_FILES:
        shutil.copyfile(sample_app_dir() / name, folder / name)
    dockerfile = sample_dockerfile(base_reference)
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    (folder / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    return dockerfile
