"""The ``bptt-sym`` console script. It lives outside the package so that Ctrl-C while the
package loads (about a second: SymPy, NumPy, Lark) is one line and status 130."""

import sys


def main() -> None:
    """Import the command line and run it; an interrupt during the imports ends quietly."""
    try:
        from bptt_sym.cli.main import main_exit
    except KeyboardInterrupt:
        sys.stderr.write("bptt-sym: interrupted\n")
        sys.exit(130)
    main_exit()


if __name__ == "__main__":
    main()
