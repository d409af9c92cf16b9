"""Load the demo data: `python -m demo [--persons N] [--seed N] [--admin-username NAME]`.

A script rather than a management command, so that demo data stays out of the installed apps
(like bench/); `make run` calls it after `manage.py migrate`. It reads the same settings as
manage.py (DJANGO_SETTINGS_MODULE, config.settings unless set).
"""

import argparse
import os


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=(
            "Load demo data (three apps, persons sharing unionids, some phones), reset the demo "
            "admin password and issue a fresh demo API key. Safe to run repeatedly."
        ),
    )
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--admin-username", default="admin")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from demo.load import load_demo

    load_demo(persons=args.persons, seed=args.seed, admin_username=args.admin_username)


if __name__ == "__main__":
    main()
