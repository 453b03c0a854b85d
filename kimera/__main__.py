from kimera.cli import main

main()
