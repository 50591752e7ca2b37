"""Run Rasa's command line with the patch layer applied: ``python -m rasa_addons.launch <rasa arguments>``.

The one entry point that launches Rasa for this project (scripts/stack.py, the Makefile, bench/,
the audit replay and the tests that run Rasa's CLI): it applies the patches ``RASA_PATCHES``
enables (rasa_addons/patches.py; default all, ``none`` for Rasa's own code), then runs
``rasa.__main__.main()`` as the ``rasa`` script would, with the same arguments.
"""
from __future__ import annotations

import logging
import sys


def main() -> None:
    from rasa_addons import patches

    # Rasa configures logging only once its CLI runs: until then, the patch layer's errors (a
    # refused patch) go to stderr through a handler of its own, removed again before Rasa starts
    log = logging.getLogger(patches.__name__)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s %(name)s  - %(message)s"))
    handler.setLevel(logging.WARNING)
    log.addHandler(handler)
    propagate, log.propagate = log.propagate, False
    try:
        status = patches.apply()
    finally:
        log.removeHandler(handler)
        log.propagate = propagate
    applied = [name for name, state in status.items() if state == "applied"]
    print(f"rasa_addons.launch: patches applied: {', '.join(applied) or 'none'}"
          + "".join(f"; {name} {state}" for name, state in status.items() if state not in ("applied", "disabled")),
          file=sys.stderr, flush=True)
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
