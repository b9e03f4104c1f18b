"""``python -m framework.train [overrides]``: the command, which lives in ``framework.command``."""

from framework.command.entry import main

if __name__ == "__main__":
    main()
