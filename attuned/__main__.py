from attuned.cli import main

main()
