from kithost.cli import main

main()
