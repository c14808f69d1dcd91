"""One module per command, each holding its options (``add_parser``) and its body (``main``);
:mod:`bench.cli.options` holds the option groups they share, :mod:`bench.cli.validation` the checks
before any worker starts, :mod:`bench.cli.progress` the progress bar and Ctrl-C.
:mod:`bench.cli` only assembles them."""
