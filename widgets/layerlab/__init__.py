"""layerlab: a live course on how Docker images really work.

    import layerlab
    engine = layerlab.connect()      # the engine the docker CLI would use
    print(engine.facts.flavour)

The package has a pure core (`layerlab.core`), one engine adapter that alone imports
`docker` (`layerlab.engine`), views that draw core objects (`layerlab.views`) and a CLI
(`python -m layerlab`).
"""

from .core.errors import LayerlabError, EngineError

__version__ = "0.1.0"


def connect(environ=None, lesson=None):
    """Connect to the Docker engine, or to a lesson's recording (see `layerlab.engine.sources`)."""
    from .engine import connect as _connect

    return _connect(environ, lesson=lesson)


def start_lesson(lesson_id, engine=None):
    """Begin a lesson in a notebook (see `layerlab.course.lesson.Lesson`)."""
    from .course.lesson import start_lesson as _start

    return _start(lesson_id, engine=engine)


__all__ = ["connect", "start_lesson", "LayerlabError", "EngineError", "__version__"]
