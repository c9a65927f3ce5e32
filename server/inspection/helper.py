"""`python -m server.inspection.helper`: the process that forks one child per document check
(server.inspection.bounded says why). Runs under CPython on Linux."""

from server.inspection.bounded import helper_main

if __name__ == "__main__":
    helper_main()
