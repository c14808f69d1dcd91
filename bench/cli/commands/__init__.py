"""One module per command, each holding its options (``add_parser``) and its body (``main``);
:mod:`bench.cli.options` holds the option groups they share, :mod:`bench.cli.common`
what the timing commands share. :mod:`bench.cli` only assembles them."""
