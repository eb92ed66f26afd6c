from c2m_cli.cli import main

main()
