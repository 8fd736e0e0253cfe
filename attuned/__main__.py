from attuned.entry import main

main()
