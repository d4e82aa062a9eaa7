from expertune.cli.app import main

main()
