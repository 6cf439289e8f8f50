"""Expected failures and the command-line wrapper that reports them as one line."""
import sys


class InputError(Exception):
    """A problem with the user's input (file, line, flag, checkpoint): reported as one line, exit 2."""


class RunDiverged(Exception):
    """Training produced a non-finite loss or score: the run stops, reported as one line, exit 3."""


def run_cli(main):
    """Run ``main()``; an InputError becomes ``error: <message>`` on stderr and exit status 2, a
    diverged run ``diverged: <message>`` and exit status 3."""
    try:
        main()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except RunDiverged as err:
        print(f"diverged: {err}", file=sys.stderr)
        sys.exit(3)
    except KeyboardInterrupt:
        print("interrupted: unfinished logs are left as *.part files", file=sys.stderr)
        sys.exit(130)
