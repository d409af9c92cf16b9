"""Load the demo data: `python -m demo [--persons N] [--seed N] [--admin-username NAME]
[--host H] [--port P] [--wechat-api-base URL] [--rotate]`.

A script rather than a management command, so that demo data stays out of the installed apps
(like bench/); `make run` calls it after `manage.py migrate`, with its HOST, PORT and fake
WeChat server. It reads the same settings as manage.py (DJANGO_SETTINGS_MODULE, config.settings
unless set).
"""

import argparse
import os


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=(
            "Load demo data (three apps, persons sharing unionids, some phones) and print the "
            "demo admin login and API key, which are kept across runs in .local/ (--rotate "
            "makes new ones). Safe to run repeatedly."
        ),
    )
    parser.add_argument("--persons", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--admin-username", default="admin")
    parser.add_argument(
        "--host", default="127.0.0.1", help="Where the service listens, for the printed URLs."
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="Where the service listens, for the printed URLs."
    )
    parser.add_argument(
        "--wechat-api-base",
        metavar="URL",
        help=(
            "The fake WeChat server this run's service talks to: printed, and written to "
            ".local/run.env, which manage.py reads on a local run for commands started from "
            "another shell."
        ),
    )
    parser.add_argument(
        "--rotate",
        action="store_true",
        help="Set a new admin password and issue a new API key (revoking the demo's old ones).",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config.local_state import load_run_env

    load_run_env()  # as manage.py does
    import django

    django.setup()
    from demo.load import load_demo

    load_demo(
        persons=args.persons,
        seed=args.seed,
        admin_username=args.admin_username,
        host=args.host,
        port=args.port,
        wechat_api_base=args.wechat_api_base,
        rotate=args.rotate,
    )


if __name__ == "__main__":
    main()
