"""The classroom: what the instructor sees of every learner, through JupyterHub.

    store      the service's database (SQLAlchemy Core: SQLite by default, PostgreSQL when
               LAYERLAB_CLASSROOM_DB names one): progress events, heartbeats, pending resets
    service    the hub-managed service `layerlab-classroom`: the instructor page (admins only)
               and the JSON API the learners' servers post to with their hub tokens
    extension  a Jupyter server extension in each learner's server: forwards the progress
               record and a heartbeat with the engine's facts, runs the resets asked for
    hubconfig  `configure(c)`: what a jupyterhub_config.py adds to run all of the above

The classroom layer may import core and engine; nothing else in the course imports it but cli.
"""
