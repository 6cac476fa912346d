"""The ``fakeweb`` command line: one module per subcommand (``model``, ``scan``, ``jobs``)."""
