"""Allow ``python -m cloud``."""

from cloud.cli import main

raise SystemExit(main())
