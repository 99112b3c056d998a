# The two commands of the README:
#   make lab    open the course (JupyterLab on notebooks/)
#   make test   run the whole test suite
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.layerlab-installed
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_PORT ?= 8888
LAB_ARGS ?=

.PHONY: i18n lab test test-live test-replay-paces install clean-venv classroom classroom-down test-classroom test-k8s-image

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

# The package's strings in other languages (gettext, with Babel): extract what _(), N_() and
# ngettext() mark into the template, merge it into each language's catalog (a changed English
# string becomes fuzzy, a new one empty: English shows until it is translated), compile the .mo
# files the package ships. tests/test_i18n.py fails when a .mo is older than its .po.
LOCALE := widgets/layerlab/locale
i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output --omit-header \
		-k _ -k N_ -k tr -k ngettext:1,2 -o $(LOCALE)/layerlab.pot widgets/layerlab
	$(VENV)/bin/pybabel update -i $(LOCALE)/layerlab.pot -d $(LOCALE) -D layerlab --no-wrap --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(LOCALE) -D layerlab --statistics

lab: $(STAMP)
	$(PY) -m layerlab prepare --if-engine
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --port=$(LAB_PORT) $(ROOT_FLAG) $(LAB_ARGS)

NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg -p no:cacheprovider

# Test runs keep no progress record and use no per-layer index cache (the learner's own are
# not the suite's; `make lab` keeps both), and speak the English the stored outputs hold,
# whatever the machine's locale (a Korean twin sets its own language in its first cell).
NO_RECORD := LAYERLAB_PROGRESS=off LAYERLAB_INDEX_CACHE=off LAYERLAB_LANG=en

HIDDEN_ENGINE := LAYERLAB_SOURCE=replay DOCKER_HOST=unix:///nonexistent/layerlab-engine-hidden.sock

# Everything, live (with no engine: the notebooks from their recordings); then the notebooks
# again with the engine hidden, from their recordings, against the same stored outputs.
# Replays under test answer at once: what depends on the clock comes from the recording.
test: $(STAMP)
	$(NO_RECORD) LAYERLAB_REPLAY_SPEED=instant $(PY) -m pytest tests notebooks --ignore=tests/classroom $(NBVAL) $(PYTEST_ARGS)
	$(NO_RECORD) $(HIDDEN_ENGINE) LAYERLAB_REPLAY_SPEED=instant $(PY) -m pytest notebooks $(NBVAL) $(PYTEST_ARGS)

# The notebooks replayed at the pace a learner gets by default (as recorded), and 50 times faster
# (the English ones: the Korean twins replay the same recordings, in `make test`).
test-replay-paces: $(STAMP)
	$(NO_RECORD) $(HIDDEN_ENGINE) LAYERLAB_REPLAY_SPEED=1 $(PY) -m pytest notebooks --ignore=notebooks/ko $(NBVAL) $(PYTEST_ARGS)
	$(NO_RECORD) $(HIDDEN_ENGINE) LAYERLAB_REPLAY_SPEED=50 $(PY) -m pytest notebooks --ignore=notebooks/ko $(NBVAL) $(PYTEST_ARGS)

# The engine tier alone, against whatever engine DOCKER_HOST names (CI runs it per flavour).
test-live: $(STAMP)
	$(NO_RECORD) $(PY) -m pytest -m "engine and not browser" tests -p no:cacheprovider $(PYTEST_ARGS)

# A class on this machine, as root (scripts/classroom.sh): LEARNERS learner accounts and one
# instructor, each learner's server with its own rootless engine, a JupyterHub on 127.0.0.1.
LEARNERS ?= 2
classroom:
	bash scripts/classroom.sh install
	bash scripts/classroom.sh up $(LEARNERS)

classroom-down:
	bash scripts/classroom.sh down $(if $(PURGE),--purge,)

# The classroom, as root (tests/classroom): a class of two learners of its own (user prefix
# llclass-t, state /var/lib/layerlab-classroom-test) driven through the hub's REST API and
# kernel websockets, then stopped; and the instructor service against a real JupyterHub with
# its proxy: the page in Chromium, a learner server with the extension (against $$DOCKER_HOST,
# or none), the store on SQLite and on a throwaway PostgreSQL (scripts/classroom-db.sh).
test-classroom: $(STAMP)
	bash scripts/classroom.sh install
	bash scripts/classroom-db.sh install
	LAYERLAB_CLASSROOM_TESTS=1 LAYERLAB_CLASS_USER_PREFIX=llclass-t LAYERLAB_CLASS_STATE=/var/lib/layerlab-classroom-test \
		$(NO_RECORD) $(PY) -m pytest tests/classroom -p no:cacheprovider -v $(PYTEST_ARGS)

# deploy/kubernetes: build the learner pods' course image against $$DOCKER_HOST, offline (its
# own debootstrap base, a wheelhouse for the image's python), check that what the pods run is
# in it (a container with no network, never pulled, labeled), then remove both images by name.
K8S_IMAGE := layerlab-k8s/course:ci
K8S_WORK := /tmp/layerlab-k8s-image-ci
test-k8s-image: $(STAMP)
	rm -rf $(K8S_WORK)
	LAYERLAB_K8S_WORK=$(K8S_WORK) bash deploy/kubernetes/build-image.sh $(K8S_IMAGE)
	docker run --rm --pull never --network none --label layerlab.course=layerlab \
		--label layerlab.lesson=k8s-image --label layerlab.learner=$${LAYERLAB_LEARNER:-ci} $(K8S_IMAGE) sh -c '\
		python3 -c "import layerlab.classroom.service, layerlab.classroom.extension, layerlab.engine, jupyterhub, sqlalchemy, psycopg" \
		&& jupyterhub-singleuser --version && test "$$(id -u)" = 1000 && test -s "$$LAYERLAB_BASES" \
		&& test -e /opt/layerlab/notebooks/01-image-layers.ipynb'
	docker image rm $(K8S_IMAGE) layerlab-k8s/course-base:bookworm
	rm -rf $(K8S_WORK)

clean-venv:
	rm -rf $(VENV)
