"""``python -m services.sweeper``: run the stuck-job sweeper until SIGTERM or SIGINT."""

from services.sweeper.sweep import main

main()
