"""The course layer: one module per lesson, and what they share.

    setup           lesson 00   the engine's facts, the base images
    layers          lesson 01   image layers, ids, sharing
    copy_on_write   lesson 02   the R/W layer watched, committed
    build_cache     lesson 03   builds with both builders, the exercise
    instructions    lesson 04   one build per Dockerfile instruction
    cmd_entrypoint  lesson 05   CMD and ENTRYPOINT, PID 1, docker stop
    what_layers_cost lesson 06  wasted bytes, dive's score and image sizes, habit by habit
    lesson          the `Lesson` a notebook holds (names, labels, cleanup)
    builds, runs    builds with both builders; containers run with a time limit

A lesson module owns its demos, its printed walkthroughs and the orchestration of builds
and watchers; views get state and callbacks from it. Each notebook imports the course
through its lesson's module only.
"""
