"""The one exception type for bad input.

Anything a user can get wrong (a config key, a table column, an argument, a path) raises
:class:`InputError` with a one-line message naming the problem; the command line turns it into
``recsys: error: <message>`` and exit code 2.
"""


class InputError(ValueError):
    """Bad user input: a config, a table, an argument or a file."""
