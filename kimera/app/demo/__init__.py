"""``kimera demo``: the stages (one module each) and the runner that composes them (:mod:`.run`)."""
