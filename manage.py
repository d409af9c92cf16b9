#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.local_state import load_run_env

    # On a local run, what `make run` runs with (the fake WeChat server) for commands started
    # from another shell; explicit variables win, and production never reads it.
    load_run_env()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
