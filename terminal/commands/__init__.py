"""`stallpay` subcommands, one module each."""
