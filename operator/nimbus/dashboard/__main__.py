"""`python -m nimbus.dashboard collect|serve|manage`: Horizon with Nimbus's local settings.

collect  copy and compress Horizon's static files into the static root (once per version: the
         image does it at build)
serve    gunicorn on --bind, Horizon's own WSGI application, static files by WhiteNoise
manage   any of Django's management commands, with these settings
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from collections.abc import Sequence

OVERLAY = pathlib.Path(__file__).resolve().parent / "overlay"
SETTINGS_MODULE = "openstack_dashboard.settings"
APPLICATION = "openstack_dashboard.wsgi:application"


def _django() -> None:
    """Horizon's settings with ours as its local settings, ready for management commands."""
    if str(OVERLAY) not in sys.path:
        sys.path.insert(0, str(OVERLAY))
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    import django

    django.setup()


def collect() -> pathlib.Path:
    """collectstatic, then compress (COMPRESS_OFFLINE): the static root, complete."""
    _django()
    from django.conf import settings
    from django.core import management

    management.call_command("collectstatic", interactive=False, clear=True, verbosity=0)
    management.call_command("compress", force=True, verbosity=0)
    return pathlib.Path(settings.STATIC_ROOT)


def gunicorn_options(bind: str, workers: int, timeout: int) -> list[str]:
    """The WSGI server's options: Horizon's application, our overlay first on its path,
    loaded once before the workers fork (their first page is then as quick as the others)."""
    return [f"--bind={bind}", f"--workers={workers}", f"--timeout={timeout}", "--preload",
            f"--pythonpath={OVERLAY}", "--access-logfile=-",
            f"--env=DJANGO_SETTINGS_MODULE={SETTINGS_MODULE}", APPLICATION]  # fmt: skip


def serve(bind: str, workers: int, timeout: int) -> None:
    """gunicorn in this process (the command line stays `python -m nimbus.dashboard serve`,
    which the local cloud knows its component by), until it is stopped."""
    from gunicorn.app import wsgiapp

    sys.argv = ["gunicorn", *gunicorn_options(bind, workers, timeout)]
    wsgiapp.run(prog="python -m nimbus.dashboard serve")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m nimbus.dashboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("collect", help="collect and compress the static files")
    serving = commands.add_parser("serve", help="serve the dashboard with gunicorn")
    serving.add_argument("--bind", default="127.0.0.1:8080", help="default: %(default)s")
    serving.add_argument("--workers", type=int, default=2, help="default: %(default)s")
    serving.add_argument("--timeout", type=int, default=60, help="default: %(default)s")
    manage = commands.add_parser("manage", help="a Django management command")
    manage.add_argument("arguments", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "collect":
        print(f"static files collected in {collect()}")
    elif args.command == "serve":
        serve(args.bind, args.workers, args.timeout)
    else:
        _django()
        from django.core import management

        management.execute_from_command_line(["nimbus.dashboard manage", *args.arguments])


if __name__ == "__main__":
    main()
