from menderlite.cli import main

raise SystemExit(main())
